//! The `respscope` binary: parse the command line, run, map errors to one clear line and an
//! exit code.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use cli::{AnalyzeArgs, Cli, Command, Format};
use respscope::analysis::wire::{SegmentRecord, WireAnalyzer, WireConfig};
use respscope::engine;
use respscope::views::report;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("respscope: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze(&args),
    }
}

fn analyze(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let cfg =
        WireConfig { ports: args.ports.clone(), previews: args.format != Format::Json || args.segments };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_err: Option<std::io::Error> = None;
    let json_lines = args.format == Format::Json;
    let result = if args.segments {
        if !json_lines {
            writeln!(out, "{}", report::segments::header())?;
        }
        let mut each = |rec: &SegmentRecord, w: &WireAnalyzer| {
            if write_err.is_none() {
                let line = if json_lines {
                    report::segments::json_line(rec, w)
                } else {
                    report::segments::line(rec, w)
                };
                if let Err(e) = writeln!(out, "{line}") {
                    write_err = Some(e);
                }
            }
        };
        engine::analyze_file(&args.file, cfg, Some(&mut each))
    } else {
        engine::analyze_file(&args.file, cfg, None)
    };
    if let Some(e) = write_err {
        return Err(e.into());
    }
    let analysis = result?;
    let r = analysis.report();
    let source = args.file.display().to_string();
    if args.segments && !json_lines {
        writeln!(out)?;
    }
    match args.format {
        Format::Text => write!(out, "{}", report::text::render(&r, &source))?,
        Format::Markdown => write!(out, "{}", report::markdown::render(&r, &source))?,
        // With --segments the output is JSON Lines: the segments, then the report on one line.
        Format::Json if json_lines && args.segments => writeln!(out, "{}", serde_json::to_string(&r)?)?,
        Format::Json => writeln!(out, "{}", report::json::render(&r)?)?,
    }
    out.flush()?;
    for w in &r.capture.warnings {
        eprintln!("respscope: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
