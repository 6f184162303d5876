//! What the pipeline's work costs on AWS: a price table (`pricing/aws-us-east-1.json`, public on-demand prices with
//! their region and date, compiled in; a table of one's own overrides it) applied to what a recording or a load
//! batch used: the Lambda time it was billed for at the function's memory, its share of the invocation's request,
//! and the S3 and SQS requests it made. The Redshift Data API has no charge of its own; the warehouse's compute is
//! priced apart ([`Prices::warehouse_cost`]).

use serde::Deserialize;

use crate::CoreError;

/// The shipped price table.
pub const SHIPPED: &str = include_str!("../../../pricing/aws-us-east-1.json");

/// A price table: USD per unit, each as the service's price page states it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Prices {
    pub region: String,
    /// The date the prices were read.
    pub as_of: String,
    pub currency: String,
    #[serde(default)]
    pub notes: String,
    pub lambda: LambdaPrices,
    pub s3: S3Prices,
    pub sqs: SqsPrices,
    pub redshift_serverless: WarehousePrices,
    pub transcribe: TranscribePrices,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaPrices {
    pub gb_second_x86_64: f64,
    pub gb_second_arm64: f64,
    pub request: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Prices {
    pub put_request: f64,
    pub get_request: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsPrices {
    pub request: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehousePrices {
    pub rpu_hour: f64,
    /// Each query is billed for at least this long.
    pub minimum_seconds: f64,
}

/// Amazon Transcribe, the managed service a user would otherwise call: what the README compares with.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscribePrices {
    pub standard_minute: f64,
    /// Each request is billed for at least this long.
    pub minimum_seconds: f64,
}

/// The processor architecture a function runs on (Lambda prices them apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arch {
    #[default]
    X86_64,
    Arm64,
}

/// What one piece of work used.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// Milliseconds of Lambda time billed for it (its share, when it shared an invocation with others).
    pub lambda_ms: f64,
    /// The function's memory.
    pub memory_mb: u32,
    pub arch: Arch,
    /// Its share of invocation requests (1 for a whole invocation, 1/n for one of n records).
    pub requests: f64,
    pub s3_gets: u32,
    pub s3_puts: u32,
    pub sqs_requests: f64,
}

impl Prices {
    /// The shipped table.
    pub fn shipped() -> Prices {
        Prices::from_json(SHIPPED).expect("the shipped price table parses (a unit test checks it)")
    }

    /// A price table from its JSON; every price must be a finite number ≥ 0.
    pub fn from_json(text: &str) -> Result<Prices, CoreError> {
        let prices: Prices = serde_json::from_str(text).map_err(|e| CoreError::Prices(e.to_string()))?;
        let all = [
            ("lambda.gb_second_x86_64", prices.lambda.gb_second_x86_64),
            ("lambda.gb_second_arm64", prices.lambda.gb_second_arm64),
            ("lambda.request", prices.lambda.request),
            ("s3.put_request", prices.s3.put_request),
            ("s3.get_request", prices.s3.get_request),
            ("sqs.request", prices.sqs.request),
            ("redshift_serverless.rpu_hour", prices.redshift_serverless.rpu_hour),
            ("redshift_serverless.minimum_seconds", prices.redshift_serverless.minimum_seconds),
            ("transcribe.standard_minute", prices.transcribe.standard_minute),
            ("transcribe.minimum_seconds", prices.transcribe.minimum_seconds),
        ];
        if let Some((name, value)) = all.iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
            return Err(CoreError::Prices(format!("{name} is {value}, not a price")));
        }
        Ok(prices)
    }

    /// What `usage` costs. Lambda bills duration rounded up to the millisecond, per GB of memory (1 GB = 1,024 MB).
    pub fn cost(&self, usage: &Usage) -> f64 {
        let per_gb_second = match usage.arch {
            Arch::X86_64 => self.lambda.gb_second_x86_64,
            Arch::Arm64 => self.lambda.gb_second_arm64,
        };
        let gb_seconds = f64::from(usage.memory_mb) / 1024.0 * usage.lambda_ms.max(0.0).ceil() / 1000.0;
        gb_seconds * per_gb_second
            + usage.requests * self.lambda.request
            + f64::from(usage.s3_gets) * self.s3.get_request
            + f64::from(usage.s3_puts) * self.s3.put_request
            + usage.sqs_requests * self.sqs.request
    }

    /// What `rpus` of Redshift Serverless cost for a query of `seconds` (at least the minimum billed).
    pub fn warehouse_cost(&self, rpus: f64, seconds: f64) -> f64 {
        rpus * seconds.max(self.redshift_serverless.minimum_seconds) / 3600.0 * self.redshift_serverless.rpu_hour
    }

    /// What Amazon Transcribe charges for one recording of `seconds` (standard batch transcription).
    pub fn transcribe_cost(&self, seconds: f64) -> f64 {
        seconds.max(self.transcribe.minimum_seconds) / 60.0 * self.transcribe.standard_minute
    }
}

/// How the stages price their work: the table, and the function's memory and architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    pub prices: Prices,
    pub memory_mb: u32,
    pub arch: Arch,
}

impl CostModel {
    /// The shipped prices for a function of `memory_mb` on x86_64 (what `template.yaml` deploys).
    pub fn shipped(memory_mb: u32) -> CostModel {
        CostModel { prices: Prices::shipped(), memory_mb, arch: Arch::X86_64 }
    }

    /// What `usage` costs, at this model's memory and architecture.
    pub fn cost(&self, usage: Usage) -> f64 {
        self.prices.cost(&Usage { memory_mb: self.memory_mb, arch: self.arch, ..usage })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_with_its_date_and_region() {
        let p = Prices::shipped();
        assert_eq!((p.region.as_str(), p.currency.as_str()), ("us-east-1", "USD"));
        assert!(p.as_of.len() == 10 && p.as_of.starts_with("20"), "{}", p.as_of);
    }

    #[test]
    fn lambda_time_is_billed_per_gb_second_rounded_up_to_the_millisecond() {
        let p = Prices::shipped();
        // One second at 1,024 MB is one GB-second.
        let one = Usage { lambda_ms: 1000.0, memory_mb: 1024, ..Usage::default() };
        assert!((p.cost(&one) - p.lambda.gb_second_x86_64).abs() < 1e-15);
        let rounded = Usage { lambda_ms: 999.2, ..one };
        assert_eq!(p.cost(&rounded), p.cost(&Usage { lambda_ms: 1000.0, ..one }));
        let arm = Usage { arch: Arch::Arm64, ..one };
        assert!(p.cost(&arm) < p.cost(&one));
        let with_requests = Usage { requests: 1.0, s3_gets: 1, s3_puts: 2, sqs_requests: 0.4, ..one };
        let expected = p.lambda.gb_second_x86_64
            + p.lambda.request
            + p.s3.get_request
            + 2.0 * p.s3.put_request
            + 0.4 * p.sqs.request;
        assert!((p.cost(&with_requests) - expected).abs() < 1e-15);
    }

    #[test]
    fn minimums_of_the_warehouse_and_of_amazon_transcribe() {
        let p = Prices::shipped();
        assert_eq!(p.warehouse_cost(8.0, 5.0), p.warehouse_cost(8.0, 60.0), "60 s at least");
        assert!((p.warehouse_cost(8.0, 3600.0) - 8.0 * 0.375).abs() < 1e-12);
        assert_eq!(p.transcribe_cost(3.0), p.transcribe_cost(15.0), "15 s at least");
        assert!((p.transcribe_cost(600.0) - 10.0 * 0.024).abs() < 1e-12);
    }

    #[test]
    fn a_table_of_ones_own_replaces_the_prices_and_a_bad_one_is_refused() {
        let cheaper = SHIPPED.replace("0.0000166667", "0.00001");
        assert_eq!(Prices::from_json(&cheaper).unwrap().lambda.gb_second_x86_64, 0.00001);
        let negative = SHIPPED.replace("\"get_request\": 0.0000004", "\"get_request\": -1");
        assert!(Prices::from_json(&negative).unwrap_err().to_string().contains("s3.get_request"));
        let typo = SHIPPED.replace("put_request", "puts_request");
        assert!(Prices::from_json(&typo).is_err());
    }
}
