//! `importctl`, the operator CLI of the imports API.
//!
//! - [`split`]: a CSV or JSON file cut into chunks that each fit in one import, read with
//!   the model's CSV reader (`imports_common::inputs`).
//! - [`client`]: the HTTP client (token, JSON:API errors, `Retry-After`, CA certificates).
//! - [`auth`]: which credentials a command uses; access tokens of client credentials.
//! - [`config`]: the credentials file of `importctl login`.
//! - [`watch`]: progress of imports until they are final, and the summary.
//! - [`commands`]: one file per subcommand (create, watch, list, show, interrupt, delete,
//!   errors, types, login and logout, webhooks), dispatched from `commands/mod.rs`.
//! - [`output`]: tables and numbers for people.
//!
//! Exit status: 0 when everything went well; 1 when an import watched (`watch`,
//! `create --watch`) was interrupted, deleted or had errors; 2 on a usage error, an
//! unreadable file or an error answer of the API.

pub mod auth;
pub mod client;
pub mod commands;
pub mod config;
pub mod output;
pub mod split;
pub mod watch;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use imports_common::inputs::parse_csv_delimiter;
use imports_common::model::{Format, Status};

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: an import watched failed, was interrupted, or had errors.
pub const EXIT_IMPORT_FAILED: i32 = 1;
/// Exit status: a usage error, an unreadable file, or an error answer of the API.
pub const EXIT_ERROR: i32 = 2;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "importctl",
    version,
    about = "Operate imports through the imports API: create imports from large CSV or JSON files, watch them, list, show, interrupt, delete; manage the webhooks called on their events.",
    after_help = "Authentication: --token (IMPORTS_TOKEN), or --client-id and --client-secret (IMPORTS_CLIENT_ID, IMPORTS_CLIENT_SECRET), or the credentials kept by `importctl login`; giving a token and client credentials together is an error.\n\nExit status: 0 ok; 1 an import watched was interrupted, deleted or had errors; 2 usage error, unreadable file or API error."
)]
pub struct Cli {
    /// The API's root URL [default: the one kept by `importctl login`, else
    /// http://127.0.0.1:8080].
    #[arg(
        long,
        visible_alias = "base-url",
        global = true,
        env = "IMPORTS_API_URL",
        value_name = "URL"
    )]
    pub api_url: Option<String>,
    /// An API token (created with `imports-api tokens create`); not with --client-id.
    #[arg(long, global = true, env = "IMPORTS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// An application's client id (`imports-api applications create`): importctl gets
    /// access tokens with it and --client-secret, and renews them as they expire.
    #[arg(long, global = true, env = "IMPORTS_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
    /// The application's client secret (better in the environment: a flag shows in `ps`).
    #[arg(
        long,
        global = true,
        env = "IMPORTS_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secret: Option<String>,
    /// Where to ask for access tokens (`<URL>/oauth/token`) [default: the API's URL].
    #[arg(long, global = true, env = "IMPORTS_AUTH_URL", value_name = "URL")]
    pub auth_url: Option<String>,
    /// A PEM file of CA certificates to trust for HTTPS, besides the system's.
    #[arg(long, global = true, env = "IMPORTS_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The credentials file of `importctl login` [default:
    /// $XDG_CONFIG_HOME/importctl/credentials.json, else ~/.config/importctl/credentials.json].
    #[arg(long, global = true, env = "IMPORTS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create imports from a CSV or JSON file, in chunks when it is larger than one import.
    Create(CreateArgs),
    /// Follow imports until they are final, then print a summary.
    Watch(WatchArgs),
    /// List imports.
    List(ListArgs),
    /// Show an import, with its errors and warnings logs.
    Show {
        /// The import's id.
        id: String,
    },
    /// Ask an import to stop (at its next batch boundary).
    Interrupt {
        /// The import's id.
        id: String,
    },
    /// Delete an import (a running one is interrupted first; its records stay).
    Delete {
        /// The import's id.
        id: String,
    },
    /// The failed inputs of an import: each error with the input as it was given.
    Errors {
        /// The import's id.
        id: String,
        /// Print the report as CSV (row,key,attribute,message,input).
        #[arg(long)]
        csv: bool,
    },
    /// The importable resource types and their attributes.
    Types {
        /// One type, with every attribute and relationship.
        name: Option<String>,
    },
    /// Check an application's client credentials (--client-id, --client-secret) by getting
    /// an access token, and keep them with the API's URL (--api-url) for later commands.
    #[command(
        after_help = "The credentials file is written with mode 0600 (see --config). Later commands without --token or --client-id use it; their flags and environment variables still win."
    )]
    Login,
    /// Forget the credentials kept by `importctl login` (remove the credentials file).
    Logout,
    /// Webhooks on the imports topics: create, list, show (--callbacks), delete, reset,
    /// disable, enable.
    Webhooks {
        /// What to do with webhooks.
        #[command(subcommand)]
        command: commands::WebhooksCommand,
    },
}

/// `importctl create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The resource type of every input (`importctl types` lists them).
    #[arg(long = "type", value_name = "TYPE")]
    pub resource_type: String,
    /// The parent of every input (`parent_resource_id`), e.g. the price list of prices.
    #[arg(long, value_name = "ID")]
    pub parent: Option<String>,
    /// The chunks' references are `<GROUP>-0001`, `<GROUP>-0002`...; by default the file's
    /// name and the time.
    #[arg(long, value_name = "GROUP")]
    pub reference_group: Option<String>,
    /// Inputs per import; by default the API's limit per import.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_records: Option<u64>,
    /// Bytes of inputs per import; by default what the API's body limit allows.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..))]
    pub chunk_bytes: Option<u64>,
    /// The file's format, when its extension does not say it.
    #[arg(long, value_name = "csv|json", value_parser = format_name)]
    pub format: Option<Format>,
    /// The field delimiter of a CSV file: `,` (the default), `;` or `tab`.
    #[arg(long, value_name = ",|;|tab", value_parser = csv_delimiter)]
    pub csv_delimiter: Option<u8>,
    /// Go on past the 10% error threshold.
    #[arg(long)]
    pub skip_errors: bool,
    /// Submit only the chunks of the group that are not there yet (after an interrupted
    /// create: give the same file and --reference-group).
    #[arg(long, requires = "reference_group")]
    pub resume: bool,
    /// Follow the imports until they are final.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between polls, with --watch.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub interval: f64,
    /// The CSV (`.csv`) or JSON (`.json`, one array of objects) file.
    pub file: PathBuf,
}

/// `importctl watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The imports' ids.
    #[arg(required_unless_present = "group", conflicts_with = "group")]
    pub ids: Vec<String>,
    /// Every import of a group created by `importctl create` (references `<GROUP>-NNNN`).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Seconds between polls.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub interval: f64,
    /// For a group: seconds to wait for chunks not created yet, once the others are final.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub missing_timeout: f64,
}

/// `importctl list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these statuses (comma-separated: pending,in_progress,completed,interrupted).
    #[arg(long, value_parser = statuses)]
    pub status: Option<String>,
    /// Only this resource type.
    #[arg(long = "type", value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// Only imports with this reference.
    #[arg(long)]
    pub reference: Option<String>,
    /// Only the imports of a group created by `importctl create`.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Page number (from 1).
    #[arg(long, default_value_t = 1)]
    pub page: u64,
    /// Page size (at most 25).
    #[arg(long, default_value_t = 25)]
    pub size: u64,
    /// Sort, e.g. `-created_at,status`.
    #[arg(long, default_value = "-created_at")]
    pub sort: String,
    /// Every page, not just one.
    #[arg(long)]
    pub all: bool,
}

/// The statuses of imports, named as the model names them, in the order `--status` help and
/// messages list them (the happy path first).
pub const STATUSES: &[&str] = &[
    Status::Pending.as_str(),
    Status::InProgress.as_str(),
    Status::Completed.as_str(),
    Status::Interrupted.as_str(),
];

/// `--format`: the model's format names, in any case (`CSV`, as an extension may be written).
fn format_name(s: &str) -> Result<Format, String> {
    s.to_ascii_lowercase()
        .parse()
        .map_err(|_| format!("'{s}' is not a format: use csv or json"))
}

/// The CSV delimiters the API accepts (`csv_delimiter`, as the model reads it), and `tab`
/// spelled out, which is easier to type in a shell.
fn csv_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "TAB" => Ok(b'\t'),
        _ => parse_csv_delimiter(s)
            .ok_or_else(|| format!("'{s}' is not a CSV delimiter: use ',', ';' or tab")),
    }
}

fn statuses(s: &str) -> Result<String, String> {
    for status in s.split(',').map(str::trim) {
        if !STATUSES.contains(&status) {
            return Err(format!(
                "'{status}' is not a status: {}",
                STATUSES.join(", ")
            ));
        }
    }
    Ok(s.replace(' ', ""))
}

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> i32 {
    match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_with_the_model_s_names() {
        assert_eq!(format_name("csv"), Ok(Format::Csv));
        assert_eq!(format_name("JSON"), Ok(Format::Json));
        assert_eq!(
            format_name("xml"),
            Err("'xml' is not a format: use csv or json".to_string())
        );
        for (given, d) in [(",", b','), (";", b';'), ("tab", b'\t'), ("TAB", b'\t')] {
            assert_eq!(csv_delimiter(given), Ok(d), "{given}");
        }
        assert_eq!(csv_delimiter("\t"), Ok(b'\t'));
        assert_eq!(csv_delimiter("\\t"), Ok(b'\t'));
        assert_eq!(
            csv_delimiter("|"),
            Err("'|' is not a CSV delimiter: use ',', ';' or tab".to_string())
        );
        let mut names = STATUSES.to_vec();
        names.sort();
        let mut model: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        model.sort();
        assert_eq!(names, model, "every status of the model, once");
        assert_eq!(
            statuses("pending, completed"),
            Ok("pending,completed".into())
        );
        assert!(statuses("bogus")
            .unwrap_err()
            .contains("'bogus' is not a status"));
    }
}
