//! SigV4 verification for the Data API stand-in: the request is signed again with the `aws-sigv4` crate, over the
//! headers the client listed as signed, at the client's own timestamp, and the two signatures are compared.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http::HeaderMap;

use super::protocol::ApiError;
use crate::Credentials;

/// The signing name of the service.
pub const SERVICE: &str = "redshift-data";
/// How far a request's clock may be from ours, as AWS allows.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let mut scope = credential?.split('/');
    let (access_key, date, region, service, terminator) =
        (scope.next()?, scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    if terminator != "aws4_request" || scope.next().is_some() {
        return None;
    }
    Some(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

fn denied(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::protocol(403, code, message)
}

/// Checks a request's signature against the configured key pair.
pub fn verify(
    credentials: &Credentials,
    method: &str,
    uri: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(authorization) = header("authorization") else {
        return Err(denied("MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let auth = parse_authorization(authorization)
        .ok_or_else(|| denied("IncompleteSignatureException", "Authorization header is not a valid SigV4 header."))?;
    if auth.access_key != credentials.access_key_id {
        return Err(denied("UnrecognizedClientException", "The security token included in the request is invalid."));
    }
    if auth.service != SERVICE {
        return Err(denied(
            "InvalidSignatureException",
            format!("Credential should be scoped to service '{SERVICE}'."),
        ));
    }
    let amz_date =
        header("x-amz-date").ok_or_else(|| denied("IncompleteSignatureException", "X-Amz-Date is missing."))?;
    let time = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| denied("IncompleteSignatureException", "X-Amz-Date is not a valid date."))?
        .and_utc();
    if !amz_date.starts_with(auth.date) {
        return Err(denied("InvalidSignatureException", "Credential scope date does not match X-Amz-Date."));
    }
    let time: SystemTime = time.into();
    let skew = match SystemTime::now().duration_since(time) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > MAX_SKEW {
        return Err(denied("InvalidSignatureException", "Signature expired: the request time is too far from now."));
    }

    let mut signed = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let values: Vec<&str> = headers.get_all(*name).iter().filter_map(|v| v.to_str().ok()).collect();
        if values.is_empty() {
            return Err(denied("IncompleteSignatureException", format!("Signed header {name} is missing.")));
        }
        for v in values {
            signed.push((*name, v));
        }
    }
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        None,
        None,
        "redscribe-local",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(Vec::new());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .into();
    let request = SignableRequest::new(method, uri, signed.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| denied("IncompleteSignatureException", e.to_string()))?;
    let expected = sign(request, &params).map_err(|e| denied("InvalidSignatureException", e.to_string()))?;
    if !constant_time_eq(expected.signature().as_bytes(), auth.signature.as_bytes()) {
        return Err(denied(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
             Access Key and signing method.",
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
