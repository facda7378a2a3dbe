//! The `jointmap` binary: parses the command line and runs it.

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JOINTMAP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in log files.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = jointmap::cli::Cli::parse();
    let result = run(cli);
    // A reader that stopped reading (`jointmap export ... | head -1`) is not
    // an error: end quietly, as ripgrep does.
    if jointmap::cli::stdout_closed() {
        return ExitCode::SUCCESS;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            let code = e
                .downcast_ref::<jointmap::cli::CliError>()
                .map_or(1, jointmap::cli::CliError::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

/// The error and its causes, each said once: most messages already include
/// their source (`path: No such file or directory`).
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

fn run(cli: jointmap::cli::Cli) -> anyhow::Result<()> {
    jointmap::cli::run(cli)?;
    Ok(())
}
