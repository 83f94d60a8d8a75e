//! The subcommands, one file each: [`dispatch`] runs the one asked for; the helpers every
//! command shares (paths, JSON printing, poll intervals, the watch display) are here.
//!
//! - `create`: files split into chunks, each created as one import.
//! - `watch`: imports followed until they are final.
//! - `list`, `show`: imports as tables.
//! - `interrupt`, `delete`: an import stopped, or removed.
//! - `errors`: the failed-inputs report.
//! - `types`: the importable resource types.
//! - `login`, `logout`: client credentials kept for later commands, or forgotten.
//! - `webhooks`: the webhooks resource (create, list, show, delete, reset, disable, enable).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::Value;

use crate::auth::{self, Given};
use crate::client::Api;
use crate::watch::{Display, Outcome};
use crate::{Cli, Command, EXIT_IMPORT_FAILED, EXIT_OK};

mod create;
mod delete;
mod errors;
mod interrupt;
mod list;
mod login;
mod show;
mod types;
mod watch;
mod webhooks;

pub use webhooks::{CreateWebhookArgs, ListWebhooksArgs, WebhooksCommand};

/// Runs the subcommand; returns the exit status.
pub fn dispatch(cli: &Cli) -> Result<i32> {
    // Checks that need no API come first, so that a typo is told before anything else.
    if let Command::Create(args) = &cli.command {
        create::check_file(args)?;
    }
    let given = Given {
        api_url: cli.api_url.clone(),
        token: cli.token.clone(),
        client_id: cli.client_id.clone(),
        client_secret: cli.client_secret.clone(),
        auth_url: cli.auth_url.clone(),
        ca_file: cli.ca_file.clone(),
        config: cli.config.clone(),
    };
    match &cli.command {
        Command::Login => return login::login(cli.json, &given),
        Command::Logout => return login::logout(cli.json, &given),
        _ => {}
    }
    let resolved = auth::resolve(&given)?;
    let api = Api::new(
        &resolved.api_url,
        resolved.credentials,
        resolved.ca_file.as_deref(),
    )?;
    match &cli.command {
        Command::Create(args) => create::create(&api, cli.json, args),
        Command::Watch(args) => watch::watch_command(&api, cli.json, args),
        Command::List(args) => list::list(&api, cli.json, args),
        Command::Show { id } => show::show(&api, cli.json, id),
        Command::Interrupt { id } => interrupt::interrupt(&api, cli.json, id),
        Command::Delete { id } => delete::delete(&api, cli.json, id),
        Command::Errors { id, csv } => errors::errors(&api, cli.json, *csv, id),
        Command::Types { name } => types::types(&api, cli.json, name.as_deref()),
        Command::Webhooks { command } => webhooks::webhooks(&api, cli.json, command),
        Command::Login | Command::Logout => unreachable!("run above"),
    }
}

/// An id made safe as one segment of a URL path.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn import_path(id: &str) -> String {
    format!("/api/imports/{}", path_segment(id))
}

fn print_json(v: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn interval(seconds: f64) -> Result<Duration> {
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("--interval must be a number of seconds above 0");
    }
    Ok(Duration::from_secs_f64(seconds.max(0.05)))
}

fn display(json: bool) -> Display {
    if json {
        Display::Quiet
    } else if std::io::stdout().is_terminal() {
        Display::Bars
    } else {
        Display::Plain
    }
}

/// Prints what a watch ended with; the exit status says whether every import went well.
fn finish_watch(json_output: bool, outcome: &Outcome) -> Result<i32> {
    if json_output {
        print_json(&outcome.to_json())?;
    } else {
        print!("{}", outcome.summary());
    }
    Ok(if outcome.ok() {
        EXIT_OK
    } else {
        EXIT_IMPORT_FAILED
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_escaped_in_paths() {
        assert_eq!(import_path("abc-D_9"), "/api/imports/abc-D_9");
        assert_eq!(import_path("a/b c"), "/api/imports/a%2Fb%20c");
    }
}
