//! `osprey rules …`: the rule file tools, answering as promtool's.

use std::process::ExitCode;

use osprey_alerting::rules::check::{Lint, check_files};
use osprey_alerting::rules::load::Language;

#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Check rule files as `promtool check rules` does (same output and exit codes).
    Check {
        /// `duplicate-rules` (the default) or `none`.
        #[arg(long, default_value = "duplicate-rules")]
        lint: String,
        /// A lint finding fails the check (exit 3).
        #[arg(long)]
        lint_fatal: bool,
        /// The files are Loki-ruler files (LogQL expressions).
        #[arg(long)]
        logql: bool,
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Run rule unit tests in `promtool test rules`' format (same output and exit codes).
    Test {
        #[arg(required = true)]
        files: Vec<String>,
    },
}

pub fn run(cmd: RulesCommand) -> ExitCode {
    match cmd {
        RulesCommand::Test { files } => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("osprey: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let o = rt.block_on(osprey_alerting::unittest::run_files(&files));
            print!("{}", o.stdout);
            eprint!("{}", o.stderr);
            ExitCode::from(o.code)
        }
        RulesCommand::Check {
            lint,
            lint_fatal,
            logql,
            files,
        } => {
            let duplicate_rules = match lint.as_str() {
                "duplicate-rules" | "all" => true,
                "none" => false,
                other => {
                    eprintln!(
                        "osprey: unknown lint {other:?}; expected duplicate-rules, all or none"
                    );
                    return ExitCode::from(1);
                }
            };
            for f in &files {
                if !std::path::Path::new(f).exists() {
                    eprintln!("osprey: error: path '{f}' does not exist");
                    return ExitCode::from(1);
                }
            }
            let language = if logql {
                Language::LogQL
            } else {
                Language::PromQL
            };
            let o = check_files(
                &files,
                language,
                Lint {
                    duplicate_rules,
                    fatal: lint_fatal,
                },
            );
            print!("{}", o.stdout);
            eprint!("{}", o.stderr);
            ExitCode::from(o.code)
        }
    }
}
