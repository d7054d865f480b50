//! Fuzzes `TargetName::parse` / `parse_strict` (docs/repository-format.md, "Target names") with
//! arbitrary text. Besides "never panics": a parsed name keeps its text, its app name obeys
//! the app-name rule, and a strictly parsed name is exactly what `TargetName::new` writes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tufd_core::TargetName;
use tufd_core::target_name::check_app_name;

fuzz_target!(|text: &str| {
    let Ok(parsed) = TargetName::parse(text) else {
        assert!(TargetName::parse_strict(text).is_err(), "{text:?}");
        return;
    };
    assert_eq!(parsed.as_str(), text);
    assert!(check_app_name(parsed.app()).is_ok(), "{text:?}");
    assert!(text.ends_with(parsed.suffix().as_str()), "{text:?}");
    if let Ok(strict) = TargetName::parse_strict(text) {
        let built = TargetName::new(strict.app(), strict.version(), strict.suffix()).unwrap();
        assert_eq!(built.as_str(), text);
        assert_eq!(TargetName::parse(built.as_str()).unwrap(), strict);
    }
});
