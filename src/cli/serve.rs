//! `jointmap serve` and `jointmap token`: thin shells over [`crate::server`].

use super::Cli;
use crate::server::{Config, ServerError};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `jointmap serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (TOML): listen address, store, audit log (default
    /// beside the store: <store>.audit.jsonl; `audit_log = ""` turns it off),
    /// limits, tokens and the `[access]` policy. Without one, defaults and no
    /// tokens.
    #[arg(long, short, value_name = "FILE", env = "JOINTMAP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides the file and JOINTMAP_LISTEN; port 0
    /// picks a free one, printed on start).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Arguments of `jointmap token`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Hash a secret read from standard input instead of making a new one.
    #[arg(long)]
    pub stdin: bool,
    /// Token name for the printed configuration snippet.
    #[arg(long, default_value = "analyst")]
    pub name: String,
    /// Role for the printed configuration snippet: hr, military, jmac or partner.
    #[arg(long, default_value = "partner")]
    pub role: String,
}

fn config_error(e: impl std::fmt::Display) -> super::CliError {
    super::CliError::Server(ServerError::Config(e.to_string()))
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let mut cfg = Config::load(args.config.as_deref()).map_err(config_error)?;
    // --store (or JOINTMAP_STORE, already applied) wins over the file when given.
    if cli.store != crate::store::Location::default() {
        cfg.store = cli.store.clone();
    }
    if let Some(l) = &args.listen {
        cfg.listen = l.clone();
    }
    cfg.validate().map_err(config_error)?;
    if cfg.tokens.is_empty() {
        eprintln!("jointmap: warning: no [[tokens]] configured; every request but /health will be refused (see `jointmap token`)");
    }
    let store = crate::store::open_with(
        &cfg.store,
        &crate::store::OpenOptions {
            indexes: crate::store::Indexes::OnOpen,
            ..super::EXISTING
        },
    )?;
    // The audit log is on unless turned off; say where it goes.
    cfg.audit_log = cfg.audit_path();
    match (&cfg.audit_log, &cfg.audit_database) {
        (_, Some(db)) => eprintln!("jointmap: audit log: {}", db.describe(&cfg.store)),
        (Some(p), None) => eprintln!("jointmap: audit log: {}", p.display()),
        (None, None) => eprintln!(
            "jointmap: warning: audit log off (audit_log = \"\"); audit records go to the log only"
        ),
    }
    crate::server::run(&cfg, Arc::from(store))?;
    Ok(())
}

pub(super) fn token(args: &TokenArgs) -> super::Result<()> {
    use crate::server::config::{new_secret, sha256, to_hex};
    let secret = if args.stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(config_error)?;
        let s = s.trim().to_string();
        if s.len() < 16 {
            return Err(config_error("the secret must have at least 16 characters"));
        }
        s
    } else {
        new_secret().map_err(config_error)?
    };
    let role: crate::access::Role = args.role.parse().map_err(config_error)?;
    if !args.stdin {
        println!("# secret (give it to the token's holder; it is not stored anywhere):");
        println!("# {secret}");
    }
    println!("[[tokens]]");
    println!("name = {:?}", args.name);
    println!("role = \"{role}\"");
    println!("sha256 = \"{}\"", to_hex(&sha256(secret.as_bytes())));
    println!("ingest = []");
    Ok(())
}
