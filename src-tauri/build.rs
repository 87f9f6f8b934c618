include!("src/ipc/command_names.rs");

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=src-tauri/src/ipc/command_names.rs");
    // Declaring the app's commands makes each one a permission (`allow-<command>`), so a
    // window can call only what its capability grants.
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/*.json")
        .app_manifest(manifest);
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
