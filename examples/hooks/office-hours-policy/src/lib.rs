//! `office-hours-policy`: defers updates during office hours (local time, Monday to Friday,
//! `start-hour` to `end-hour`, default 9 to 17) until the hours end; required releases install
//! at once. Installs with the tree plan, keeping `user-data`.
//!
//! Settings: `start-hour = "9"`, `end-hour = "17"`.

use tufd_hooks_sdk::{Decision, Hook, InstallContext, Step, UpdateInfo, info, plans, setting};

struct OfficeHours;

const DAY: i64 = 86_400;

fn hour_setting(info: &UpdateInfo, key: &str, default: i64) -> i64 {
    setting(&info.settings, key)
        .and_then(|v| v.trim().parse().ok())
        .filter(|h| (0..=24).contains(h))
        .unwrap_or(default)
}

impl Hook for OfficeHours {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let mut steps = plans::replace_tree_keeping(&ctx, &["user-data"]);
        steps.extend(plans::relaunch_configured(&ctx));
        Ok(steps)
    }

    fn on_update_available(update: UpdateInfo) -> Decision {
        if update.required {
            return Decision::InstallNow;
        }
        let (start, end) = (
            hour_setting(&update, "start-hour", 9),
            hour_setting(&update, "end-hour", 17),
        );
        let now = i64::try_from(update.now_unix_seconds).unwrap_or(i64::MAX);
        let local = now + i64::from(update.utc_offset_seconds);
        let day_start = local.div_euclid(DAY) * DAY;
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
        let weekday = (local.div_euclid(DAY) + 3).rem_euclid(7);
        let hour = (local - day_start) / 3600;
        if weekday < 5 && (start..end).contains(&hour) {
            let until_local = day_start + end * 3600;
            let until = until_local - i64::from(update.utc_offset_seconds);
            info(&format!(
                "office hours: deferring {} until {until}",
                update.new_version
            ));
            Decision::DeferUntil(u64::try_from(until).unwrap_or(0))
        } else {
            Decision::InstallNow
        }
    }
}

tufd_hooks_sdk::export_hook!(OfficeHours);
