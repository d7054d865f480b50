//! Google Cloud Storage (`gs://bucket/prefix`) and Azure Blob Storage
//! (`az://container/prefix`) destinations, through `object_store`'s `gcp` and `azure` stores,
//! configured from the standard environment variables as `object_store`'s `from_env` reads
//! them (`GOOGLE_*`, `AZURE_*`).
//!
//! Without credentials in the environment, both stores would fall back to the cloud's instance
//! metadata service and retry for minutes where there is none; a destination whose credentials
//! are missing is refused at once instead ([`Error::PublishCredentials`]), naming the variables
//! to set.

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};

use crate::error::{Error, Result};

/// The variables any one of which gives Google Cloud credentials (besides the application
/// default credentials file of `gcloud auth application-default login`).
pub const GCS_CREDENTIALS: &[&str] = &[
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "SERVICE_ACCOUNT",
    "GOOGLE_BEARER_TOKEN",
];

/// The variables any one of which gives Azure credentials (with `AZURE_STORAGE_ACCOUNT_NAME`;
/// a client secret also needs `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`).
pub const AZURE_CREDENTIALS: &[&str] = &[
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USE_AZURE_CLI",
    "AZURE_STORAGE_USE_EMULATOR",
];

/// The path of `gcloud`'s application default credentials under `home`.
const GCLOUD_ADC: &str = ".config/gcloud/application_default_credentials.json";

/// Splits `bucket/prefix` (after the scheme) into a non-empty bucket and a prefix without
/// surrounding slashes.
fn split(rest: &str) -> Option<(&str, &str)> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket, prefix.trim_matches('/')))
}

/// The variables of `vars` named `prefix…` that are configuration keys `K` of an `object_store`
/// builder (whose names are the variables' names in lower case, as its `from_env` reads them).
fn config<'a, K: std::str::FromStr>(
    vars: &'a [(String, String)],
    prefix: &'a str,
) -> impl Iterator<Item = (K, &'a str)> + 'a {
    vars.iter()
        .filter(move |(k, _)| k.starts_with(prefix))
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase().parse().ok()?, v.as_str())))
}

/// The built store and the destination's `prefix`, or the builder's refusal as
/// [`Error::PublishDestination`] naming `dest`.
fn store(
    dest: &str,
    prefix: &str,
    built: object_store::Result<impl ObjectStore>,
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let store = built.map_err(|e| Error::PublishDestination {
        dest: dest.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((Arc::new(store), prefix.to_owned()))
}

fn set(vars: &[(String, String)], name: &str) -> bool {
    vars.iter().any(|(k, v)| k == name && !v.is_empty())
}

/// The store of `gs://bucket/prefix` (`rest` is what follows the scheme) and its prefix, from
/// the environment `vars`.
///
/// # Errors
/// [`Error::PublishDestination`] for no bucket or a configuration `object_store` refuses,
/// [`Error::PublishCredentials`] when `vars` hold no credentials.
pub fn gcs(
    dest: &str,
    rest: &str,
    vars: &[(String, String)],
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let (bucket, prefix) = split(rest).ok_or_else(|| Error::PublishDestination {
        dest: dest.to_owned(),
        reason: "no bucket: use gs://bucket/prefix".into(),
    })?;
    let adc = vars
        .iter()
        .find(|(k, _)| k == "HOME")
        .is_some_and(|(_, home)| Path::new(home).join(GCLOUD_ADC).is_file());
    if !adc && !GCS_CREDENTIALS.iter().any(|n| set(vars, n)) {
        return Err(Error::PublishCredentials {
            dest: dest.to_owned(),
            needed: "GOOGLE_APPLICATION_CREDENTIALS (a service account key file) or GOOGLE_SERVICE_ACCOUNT_KEY",
        });
    }
    let builder = config::<GoogleConfigKey>(vars, "GOOGLE_")
        .fold(GoogleCloudStorageBuilder::new(), |b, (k, v)| {
            b.with_config(k, v)
        });
    store(dest, prefix, builder.with_bucket_name(bucket).build())
}

/// The store of `az://container/prefix` (`rest` is what follows the scheme) and its prefix,
/// from the environment `vars` (the account is `AZURE_STORAGE_ACCOUNT_NAME`).
///
/// # Errors
/// [`Error::PublishDestination`] for no container, no account or a configuration
/// `object_store` refuses, [`Error::PublishCredentials`] when `vars` hold no credentials.
pub fn azure(
    dest: &str,
    rest: &str,
    vars: &[(String, String)],
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let (container, prefix) = split(rest).ok_or_else(|| Error::PublishDestination {
        dest: dest.to_owned(),
        reason: "no container: use az://container/prefix".into(),
    })?;
    if !set(vars, "AZURE_STORAGE_ACCOUNT_NAME") || !AZURE_CREDENTIALS.iter().any(|n| set(vars, n)) {
        return Err(Error::PublishCredentials {
            dest: dest.to_owned(),
            needed: "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_TOKEN, or AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID)",
        });
    }
    let builder = config::<AzureConfigKey>(vars, "AZURE_")
        .fold(MicrosoftAzureBuilder::new(), |b, (k, v)| {
            b.with_config(k, v)
        });
    store(dest, prefix, builder.with_container_name(container).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn gcs_builds_from_the_url_and_refuses_missing_credentials() {
        let dest = "gs://updates/hello/stable";
        let (_, prefix) = gcs(
            dest,
            "updates/hello/stable",
            &vars(&[("GOOGLE_BEARER_TOKEN", "t")]),
        )
        .unwrap();
        assert_eq!(prefix, "hello/stable");
        let err = gcs(
            dest,
            "updates/hello/stable",
            &vars(&[("HOME", "/nonexistent")]),
        )
        .err()
        .unwrap();
        assert!(matches!(&err, Error::PublishCredentials { dest: d, .. } if d == dest));
        assert_eq!(err.kind(), crate::error::ErrorKind::Config);
        assert!(!err.to_string().contains('\n'));
        assert!(matches!(
            gcs("gs://", "", &vars(&[("GOOGLE_BEARER_TOKEN", "t")])),
            Err(Error::PublishDestination { .. })
        ));
    }

    #[test]
    fn azure_builds_from_the_url_and_refuses_missing_credentials() {
        let dest = "az://updates/hello";
        let account = ("AZURE_STORAGE_ACCOUNT_NAME", "example");
        let (_, prefix) = azure(
            dest,
            "updates/hello",
            &vars(&[account, ("AZURE_STORAGE_ACCOUNT_KEY", "c2VjcmV0")]),
        )
        .unwrap();
        assert_eq!(prefix, "hello");
        for env in [
            vec![account],
            vec![("AZURE_STORAGE_ACCOUNT_KEY", "c2VjcmV0")],
        ] {
            let err = azure(dest, "updates/hello", &vars(&env)).err().unwrap();
            assert!(matches!(&err, Error::PublishCredentials { dest: d, .. } if d == dest));
            assert_eq!(err.kind(), crate::error::ErrorKind::Config);
            assert!(!err.to_string().contains('\n'));
        }
    }
}
