// The window's commands, listed once. `ipc/mod.rs` turns the list into the handler
// and the TypeScript bindings; `build.rs` (which includes this file too) turns it into
// one `allow-<command>` permission each and the `app-commands` set the window's
// capability grants. Adding a command: write the function, add its path here.

/// Calls `$then!` with every command's path.
macro_rules! app_commands {
    ($then:ident) => {
        $then! {
            app_info,
            set_locale,
            enter_sandbox,
            set_prefs,
            accounts::list_accounts,
            accounts::start_login,
            accounts::submit_login_code,
            accounts::cancel_login,
            accounts::qr_svg,
            accounts::scan_openclaw,
            accounts::import_openclaw,
            accounts::rename_account,
            accounts::set_account_enabled,
            accounts::remove_account,
            conversations::list_conversations,
            conversations::conversation_page,
            conversations::mark_read,
            conversations::mark_account_read,
            conversations::set_open_conversation,
            conversations::send_text,
            conversations::send_file,
            files::pick_files,
            files::send_pasted_picture,
            conversations::retry_outbound,
            conversations::retry_media,
            conversations::discard_outbound,
            conversations::message_raw,
            conversations::search_messages,
            conversations::open_media,
            save_as::save_media_as,
            crate::first_paint::report_first_paint,
            conversations::set_muted,
            peers::rename_peer,
            peers::set_peer_note,
            peers::peer_details,
            ai::ai_global,
            ai::set_ai_global,
            ai::set_ai_paused,
            ai::set_ai_key,
            ai::test_ai_connection,
            ai::ai_account,
            ai::set_ai_account,
            ai::set_ai_account_enabled,
            ai::ai_peer,
            ai::set_ai_peer_enabled,
            ai::set_ai_peer_persona,
            ai::resume_ai_peer,
            ai::ai_memory,
            ai::set_ai_memory_summary,
            ai::reset_ai_memory,
        }
    };
}
