//! Fuzzes `TargetCustom::parse` (the signed `custom` object of a target, tufup's shape) with
//! arbitrary JSON objects, as an archive and as a patch. Besides "never panics": what parses
//! writes back (`to_custom`) to a map that parses to the same value.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tufd_core::TargetCustom;

fuzz_target!(|data: &[u8]| {
    let Ok(custom) = serde_json::from_slice::<HashMap<String, Value>>(data) else {
        return;
    };
    for (target, is_patch) in [("app-1.0.tar.gz", false), ("app-1.0.patch", true)] {
        let Ok(parsed) = TargetCustom::parse(target, is_patch, &custom) else {
            continue;
        };
        let written = match &parsed {
            TargetCustom::Archive(a) => a.to_custom(),
            TargetCustom::Patch(p) => p.to_custom(),
        };
        let again = TargetCustom::parse(target, is_patch, &written)
            .unwrap_or_else(|e| panic!("{parsed:?} wrote {written:?}, which fails: {e}"));
        assert_eq!(again, parsed, "{written:?}");
    }
});
