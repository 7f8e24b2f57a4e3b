//! A small error type with context, so messages read "what we were doing: why it failed".

use std::fmt;

#[derive(Debug)]
pub struct Error {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// The errno of the underlying system call, when there was one (for tests and exit codes).
    pub os_error: Option<i32>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn msg(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            source: None,
            os_error: None,
        }
    }

    pub fn io(context: impl Into<String>, err: std::io::Error) -> Self {
        Error {
            message: context.into(),
            os_error: err.raw_os_error(),
            source: Some(Box::new(err)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// `.context("doing X")` / `.with_context(|| ...)` on results and options.
pub trait Context<T> {
    fn context(self, context: &str) -> Result<T>;
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn context(self, context: &str) -> Result<T> {
        self.with_context(|| context.to_string())
    }

    fn with_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| {
            let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
            let os_error = boxed
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error);
            Error {
                message: context(),
                source: Some(boxed),
                os_error,
            }
        })
    }
}
