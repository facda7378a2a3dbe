//! The `jointmap` binary: parses the command line and runs it.

use clap::Parser;
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
        .init();
    let cli = jointmap::cli::Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = e
                .downcast_ref::<jointmap::cli::CliError>()
                .map_or(1, jointmap::cli::CliError::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

fn run(cli: jointmap::cli::Cli) -> anyhow::Result<()> {
    jointmap::cli::run(cli)?;
    Ok(())
}
