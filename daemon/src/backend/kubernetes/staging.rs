//! The run's files in S3: the bundle and config the driver fetches before Snakemake starts,
//! uploaded because ConfigMaps and Secrets cannot hold more than 1 MiB.
//!
//! Requests are signed (AWS Signature Version 4, as presigned URLs) by `rusty-s3` and sent
//! with an ordinary HTTP client.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::settings::{RunStorage, S3Settings};

/// How long a signed request stays valid: only as long as it takes to send it.
const SIGNED_FOR: Duration = Duration::from_secs(300);
const TIMEOUT: Duration = Duration::from_secs(120);

/// Why the run's files could not be stored or removed.
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("the S3 settings are unusable: {0}")]
    Settings(String),
    #[error("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set for the S3 client")]
    MissingCredentials,
    /// The error never carries the request's URL: a presigned URL holds the access key id and
    /// a signature valid for minutes.
    #[error("S3 request failed")]
    Request(#[source] reqwest::Error),
}

fn redacted(error: reqwest::Error) -> StagingError {
    StagingError::Request(error.without_url())
}

/// A client of the runs' bucket, with the daemon's own credentials.
#[derive(Clone)]
pub struct Staging {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
}

impl Staging {
    /// Credentials come from the daemon's environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, optionally `AWS_SESSION_TOKEN`), never from a client.
    pub fn new(s3: &S3Settings) -> Result<Staging, StagingError> {
        let region = s3.region.clone().unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = s3
            .endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = endpoint
            .parse()
            .map_err(|e| StagingError::Settings(format!("{e}")))?;
        // Path-style addressing works with AWS and with every S3-compatible store.
        let bucket = Bucket::new(endpoint, UrlStyle::Path, s3.bucket.clone(), region)
            .map_err(|e| StagingError::Settings(format!("{e}")))?;
        let credentials = Credentials::from_env().ok_or(StagingError::MissingCredentials)?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(redacted)?;
        Ok(Staging {
            bucket,
            credentials,
            http,
        })
    }

    pub async fn upload(
        &self,
        run: &RunStorage,
        bundle: Vec<u8>,
        config: Vec<u8>,
    ) -> Result<(), StagingError> {
        for (key, body) in [(&run.bundle_key, bundle), (&run.config_key, config)] {
            let url = self
                .bucket
                .put_object(Some(&self.credentials), key)
                .sign(SIGNED_FOR);
            let response = self
                .http
                .put(url)
                .body(body)
                .send()
                .await
                .map_err(redacted)?;
            response.error_for_status().map_err(redacted)?;
        }
        Ok(())
    }

    /// Removes what only the driver needed; the run's outputs stay. Deleting a missing object
    /// succeeds in S3, so removing twice is fine.
    pub async fn remove(&self, run: &RunStorage) -> Result<(), StagingError> {
        for key in [&run.bundle_key, &run.config_key] {
            let url = self
                .bucket
                .delete_object(Some(&self.credentials), key)
                .sign(SIGNED_FOR);
            let response = self.http.delete(url).send().await.map_err(redacted)?;
            response.error_for_status().map_err(redacted)?;
        }
        Ok(())
    }
}
