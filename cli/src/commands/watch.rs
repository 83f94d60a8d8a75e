//! `importctl watch`: imports, or a group's, followed until they are final.

use std::time::Duration;

use anyhow::{bail, Result};

use super::{display, finish_watch, interval};
use crate::client::Api;
use crate::watch::{self, Target};
use crate::WatchArgs;

/// Runs `watch`: follows the imports until they are final; returns the exit status.
pub(super) fn watch_command(api: &Api, json_output: bool, args: &WatchArgs) -> Result<i32> {
    let target = match &args.group {
        Some(g) => Target::Group(g.clone()),
        None => Target::Ids(args.ids.clone()),
    };
    if !(args.missing_timeout.is_finite() && args.missing_timeout >= 0.0) {
        bail!("--missing-timeout must be a number of seconds");
    }
    let options = watch::Options {
        interval: interval(args.interval)?,
        display: display(json_output),
        missing_timeout: Duration::from_secs_f64(args.missing_timeout),
    };
    let outcome = watch::watch(api, &target, &options)?;
    finish_watch(json_output, &outcome)
}
