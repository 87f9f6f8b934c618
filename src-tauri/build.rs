include!("src/ipc/command_list.rs");

macro_rules! command_paths {
    ($($command:tt)*) => {
        stringify!($($command)*)
    };
}

/// Where the permission set of every command is written (next to the permissions
/// tauri-build generates; both are build output, not sources).
const COMMAND_SET: &str = "permissions/app-commands.toml";

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=src-tauri/src/ipc/command_list.rs");
    let names: Vec<&'static str> = app_commands!(command_paths)
        .split(',')
        .filter_map(|path| path.rsplit("::").next())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    write_command_set(&names);
    // Declaring the app's commands makes each one a permission (`allow-<command>`), so a
    // window can call only what its capability grants.
    let manifest = tauri_build::AppManifest::new().commands(Box::leak(names.into_boxed_slice()));
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/*.json")
        .app_manifest(manifest);
    tauri_build::try_build(attributes).expect("tauri-build failed");
}

/// The `app-commands` permission set: every command, granted by the window's capability.
fn write_command_set(names: &[&str]) {
    let permissions: Vec<String> = names
        .iter()
        .map(|name| format!("  \"allow-{}\",", name.replace('_', "-")))
        .collect();
    let text = format!(
        "# Written by build.rs from src-tauri/src/ipc/command_list.rs.\n\n[[set]]\n\
         identifier = \"app-commands\"\n\
         description = \"Every command of the app's window.\"\n\
         permissions = [\n{}\n]\n",
        permissions.join("\n")
    );
    std::fs::create_dir_all("permissions").expect("cannot create permissions/");
    if std::fs::read_to_string(COMMAND_SET).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(COMMAND_SET, text).expect("cannot write the command permission set");
    }
}
