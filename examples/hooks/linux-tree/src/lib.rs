//! `linux-tree`: replace the install folder with the new version, but carry over the paths
//! listed in the `keep` setting (default `user-data`), make the `executables` setting's files
//! executable (default: the relaunch program), and relaunch if configured.
//!
//! Settings (`[hook-settings]` in tufd.toml): `keep = "user-data, logs"`,
//! `executables = "bin/app, bin/helper"`.

use tufd_hooks_sdk::{
    Decision, Hook, InstallContext, Program, Step, UpdateInfo, info, plans, setting_list, step,
};

struct LinuxTree;

impl Hook for LinuxTree {
    fn plan_install(ctx: InstallContext) -> Result<Vec<Step>, String> {
        let mut keep = setting_list(&ctx.settings, "keep");
        if keep.is_empty() {
            keep.push("user-data".to_owned());
        }
        let mut steps = plans::replace_tree_keeping(&ctx, &keep);

        let mut executables = setting_list(&ctx.settings, "executables");
        if let Some(Program::InRoot(program)) = ctx.relaunch.as_ref().map(|c| &c.program)
            && executables.is_empty()
        {
            executables.push(program.rel.clone());
        }
        for exe in &executables {
            steps.push(step::set_mode(tufd_hooks_sdk::install(exe), 0o755));
        }
        steps.extend(plans::relaunch_configured(&ctx));
        info(&format!(
            "linux-tree: {} -> {}, keeping {keep:?}, {} steps",
            ctx.installed_version,
            ctx.new_version,
            steps.len()
        ));
        Ok(steps)
    }

    fn on_update_available(_info: UpdateInfo) -> Decision {
        Decision::InstallNow
    }
}

tufd_hooks_sdk::export_hook!(LinuxTree);
