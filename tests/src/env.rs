//! Settings the tests read from the environment. A missing one is a failure with a hint,
//! never a silent skip: a green run must mean the tests really ran.

/// The value of `name`, or a panic that says how to provide it.
pub fn require(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "environment variable {name} is not set. {}\n\
             Run the whole suite with `bash tests/run.sh`, which starts every service.",
            hint(name)
        ),
    }
}

fn hint(name: &str) -> &'static str {
    if name == "DOCKER_HOST" {
        "Start the private Docker engine: eval \"$(bash tests/services/dockerd-up.sh)\""
    } else if name.starts_with("BERTH_TEST_S3_") {
        "Start the S3 server: eval \"$(bash tests/services/s3-up.sh)\""
    } else if name == "BERTH_TEST_DATABASE_URL" {
        "Start Postgres: eval \"$(bash tests/services/pg-up.sh)\""
    } else {
        ""
    }
}

/// Connection settings of the shared S3 server (`tests/services/s3-up.sh`).
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

impl S3Settings {
    pub fn from_env() -> S3Settings {
        S3Settings {
            endpoint: require("BERTH_TEST_S3_ENDPOINT"),
            bucket: require("BERTH_TEST_S3_BUCKET"),
            region: require("BERTH_TEST_S3_REGION"),
            access_key: require("BERTH_TEST_S3_ACCESS_KEY"),
            secret_key: require("BERTH_TEST_S3_SECRET_KEY"),
        }
    }
}
