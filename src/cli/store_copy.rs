//! `jointmap store-copy SRC DST`: every layer of one store into another,
//! whatever their backends, in one atomic batch on DST.

use super::Cli;
use crate::store::{CopyMode, IfMissing, Location, OpenOptions, StoreError};

/// Arguments of `jointmap store-copy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store to copy from (a GeoPackage path or postgresql://...); it must exist.
    pub src: Location,
    /// The store to copy into; created when absent, and refused when it holds
    /// features unless --replace.
    pub dst: Location,
    /// Replace everything DST holds: its features are deleted (kept in its
    /// history as deleted versions) in the same batch that writes the copy.
    #[arg(long)]
    pub replace: bool,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let same = match (args.src.path(), args.dst.path()) {
        (Some(a), Some(b)) => {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        }
        _ => args.src == args.dst,
    };
    if same || args.dst == Location::Memory {
        return Err(StoreError::Invalid {
            location: args.dst.to_string(),
            reason: "store-copy needs a DST that is another stored location than SRC".into(),
        }
        .into());
    }
    let src = crate::store::open_with(
        &args.src,
        &OpenOptions {
            if_missing: IfMissing::Refuse,
            ..Default::default()
        },
    )?;
    let dst = crate::store::open_with(&args.dst, &OpenOptions::default())?;
    let mode = if args.replace {
        CopyMode::Replace
    } else {
        CopyMode::RefuseNonEmpty
    };
    let quiet = cli.quiet;
    let counts = crate::store::copy(
        src.as_ref(),
        dst.as_ref(),
        &args.dst.to_string(),
        mode,
        &mut |layer, n| {
            if !quiet {
                eprintln!("{layer}: {n} features written (committed at the end)");
            }
        },
    )?;
    if !quiet {
        for (layer, n) in &counts {
            println!("{layer}\t{n}");
        }
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        eprintln!(
            "copied {total} features from {} to {}; counts verified",
            args.src, args.dst
        );
    }
    Ok(())
}
