use std::fmt;
use std::str::FromStr;

/// A request method (none takes parameters yet). Each answers with the result type named
/// here (module [`results`](crate::results)).
/// Not `non_exhaustive`: a daemon must answer every method, so a new one is a compile error in
/// its dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `status` → [`Status`](crate::Status).
    Status,
    /// `check` → [`CheckReport`](crate::CheckReport).
    Check,
    /// `download` → [`Staged`](crate::Staged).
    Download,
    /// `install` → [`Installed`](crate::Installed).
    Install,
    /// `cancel` → [`Cancelled`](crate::Cancelled).
    Cancel,
    /// `shutdown` → `{}`, once the engine stopped.
    Shutdown,
    /// `confirm` → [`Confirmed`](crate::Confirmed): the new version is healthy.
    Confirm,
    /// `rollback` → [`RolledBack`](crate::RolledBack): restore the previous version.
    Rollback,
}

impl Method {
    /// Every method, in the order docs/protocol.md lists them.
    pub const ALL: [Method; 8] = [
        Method::Status,
        Method::Check,
        Method::Download,
        Method::Install,
        Method::Cancel,
        Method::Shutdown,
        Method::Confirm,
        Method::Rollback,
    ];

    /// The method name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Status => "status",
            Method::Check => "check",
            Method::Download => "download",
            Method::Install => "install",
            Method::Cancel => "cancel",
            Method::Shutdown => "shutdown",
            Method::Confirm => "confirm",
            Method::Rollback => "rollback",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method name that is not one of [`Method::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMethod(pub String);

impl fmt::Display for UnknownMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown method `{}`", self.0)
    }
}

impl std::error::Error for UnknownMethod {}

impl FromStr for Method {
    type Err = UnknownMethod;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
            .ok_or_else(|| UnknownMethod(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_parses_back_from_its_name() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
        }
        assert!("fly".parse::<Method>().is_err());
    }
}
