//! `osprey token`: make API tokens and their `[[auth.tokens]]` entries. The token is
//! printed once; the config keeps only its SHA-256.

use std::io::BufRead;
use std::process::ExitCode;

use osprey_config::Scope;

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Make a new random token: prints it, then its `[[auth.tokens]]` entry.
    Create {
        /// Who holds it (named in logs and 403 messages).
        #[arg(long)]
        name: String,
        /// A tenant it may act as (repeat for several; `*` for any). The first is
        /// used when a request names none.
        #[arg(long = "tenant", required = true)]
        tenants: Vec<String>,
        /// What it may do: ingest, query, rules, alerts, admin (repeat for several).
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// Print the SHA-256 of a token read from standard input (for a token made elsewhere).
    Hash,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::ALL
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| {
            format!("{s:?} is not a scope; expected ingest, query, rules, alerts or admin")
        })
}

pub fn run(cmd: TokenCommand) -> ExitCode {
    match cmd {
        TokenCommand::Create {
            name,
            tenants,
            scopes,
        } => {
            let token = osprey_auth::generate_token();
            let entry = osprey_config::TokenConfig {
                name,
                sha256: osprey_auth::token_sha256(&token),
                tenants,
                scopes,
            };
            let cfg = osprey_config::Config {
                auth: osprey_config::AuthConfig {
                    tokens: vec![entry],
                },
                ..Default::default()
            };
            // The entry goes through the same checks as a config file's.
            let problems = cfg.validate();
            if !problems.is_empty() {
                for p in problems {
                    eprintln!("osprey: {p}");
                }
                return ExitCode::FAILURE;
            }
            let Ok(table) = toml::to_string(&cfg.auth) else {
                eprintln!("osprey: cannot render the entry");
                return ExitCode::FAILURE;
            };
            println!("{token}");
            println!();
            println!("# Add to osprey.toml; the token above is not stored anywhere.");
            // `[[tokens]]` of the section is `[[auth.tokens]]` in the file.
            print!("{}", table.replace("[[tokens]]", "[[auth.tokens]]"));
            ExitCode::SUCCESS
        }
        TokenCommand::Hash => {
            let mut line = String::new();
            if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                eprintln!("osprey: cannot read the token from standard input: {e}");
                return ExitCode::FAILURE;
            }
            let token = line.trim();
            if token.is_empty() {
                eprintln!("osprey: no token on standard input");
                return ExitCode::FAILURE;
            }
            println!("{}", osprey_auth::token_sha256(token));
            ExitCode::SUCCESS
        }
    }
}
