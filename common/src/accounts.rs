//! Who calls the API: organizations and their OAuth2 applications, as Commerce Layer has them.
//! An application belongs to one organization and one mode; its client credentials get access
//! tokens for that tenant.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::model::{Mode, Tenant, UnknownValue};

/// An organization: the owner of data, known to clients by its slug (the host name part of
/// its API URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its id.
    pub id: String,
    /// Its slug: lower-case letters, digits and inner hyphens, at most 63 characters.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Organization {
    /// The tenant of this organization in `mode`. Data is keyed by the slug, the key API
    /// tokens have always named.
    pub fn tenant(&self, mode: Mode) -> Tenant {
        Tenant {
            organization_id: self.slug.clone(),
            mode,
        }
    }
}

/// Checks an organization slug as a host name label: 1 to 63 lower-case letters, digits or
/// inner hyphens.
pub fn check_slug(slug: &str) -> Result<(), String> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{slug}' is not a valid organization slug: 1 to 63 lower-case letters, digits or inner hyphens"
        ))
    }
}

/// What an application is for. Only `integration` (server-to-server, client credentials)
/// exists here: the kind Commerce Layer's CLI and imports need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationKind {
    /// Server-side access with a client id and secret.
    Integration,
}

impl ApplicationKind {
    /// The name used in tokens, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationKind::Integration => "integration",
        }
    }
}

impl FromStr for ApplicationKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "integration" => Ok(ApplicationKind::Integration),
            other => Err(UnknownValue::new("kind", other)),
        }
    }
}

impl fmt::Display for ApplicationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth2 application of one organization and mode (never its secret, which is stored
/// hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Its id.
    pub id: String,
    /// Whose it is.
    pub organization: Organization,
    /// The mode its tokens act in.
    pub mode: Mode,
    /// What it is for.
    pub kind: ApplicationKind,
    /// Its name.
    pub name: String,
    /// The public half of its client credentials.
    pub client_id: String,
    /// The scopes its tokens carry, space-separated (`market:all`).
    pub scopes: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was revoked: its credentials and tokens no longer work.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Application {
    /// The tenant its tokens act for.
    pub fn tenant(&self) -> Tenant {
        self.organization.tenant(self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_host_name_labels() {
        for ok in ["acme", "a", "acme-2", "0x", &"a".repeat(63)] {
            assert!(check_slug(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "-acme",
            "acme-",
            "ac me",
            "ac_me",
            "acmé",
            &"a".repeat(64),
        ] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_read_back_and_refuse_others() {
        assert_eq!(
            "integration".parse::<ApplicationKind>().unwrap(),
            ApplicationKind::Integration
        );
        assert!("sales_channel".parse::<ApplicationKind>().is_err());
    }
}
