// No console window for release builds on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // First thing: the start-up measurement counts from here.
    weixin_desk::first_paint::mark_process_start();
    weixin_desk::main_entry()
}
