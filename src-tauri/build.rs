fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    // Declaring the app's commands makes each one a permission (`allow-<command>`), so a
    // window can call only what its capability grants.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "app_info",
        "set_locale",
        "enter_sandbox",
        "set_prefs",
        "list_accounts",
        "start_login",
        "submit_login_code",
        "cancel_login",
        "qr_matrix",
        "rename_account",
        "set_account_enabled",
        "remove_account",
        "list_conversations",
        "conversation_page",
        "mark_read",
        "send_text",
        "send_file",
        "retry_outbound",
        "discard_outbound",
        "search_messages",
        "media_data",
        "open_media",
        "save_media_as",
        "report_first_paint",
        "set_muted",
        "begin_upload",
        "append_upload",
        "finish_upload",
        "cancel_upload",
        "ai_global",
        "set_ai_global",
        "set_ai_paused",
        "set_ai_key",
        "test_ai_connection",
        "ai_account",
        "set_ai_account",
        "set_ai_account_enabled",
        "ai_peer",
        "set_ai_peer_enabled",
        "set_ai_peer_persona",
        "resume_ai_peer",
        "ai_memory",
        "set_ai_memory_summary",
        "reset_ai_memory",
    ]);
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/*.json")
        .app_manifest(manifest);
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
