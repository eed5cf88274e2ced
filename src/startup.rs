//! Builds the HTTP server from settings and backends, and knows its own port (tests bind
//! port 0). `serve`: graceful shutdown on SIGTERM/SIGINT is actix's, bounded by
//! `server.shutdown_timeout_secs` (Cloud Run kills 10 s after SIGTERM). A command that runs
//! the server inside itself (`InProcess`) leaves signals to its [`Interrupt`]: the first
//! Ctrl-C stops new work and drains as long as the server would, the second exits at once.
//! No handler logic here.

use crate::backends::{Backends, LocalControl, LocalHandle};
use crate::config::{Profile, Settings};
use crate::router;
use crate::router::body_deadline::with_body_deadline;
use crate::state::AppState;
use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::{App, HttpServer};
use anyhow::Context;
use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// A warning for the operator when the local profile listens beyond loopback: its upload,
/// object and event routes have no authentication, so whoever reaches the port can write
/// any object (derived outputs included) and post forged events.
pub fn exposure_warning(settings: &Settings) -> Option<String> {
    let host = settings.server.host.as_str();
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (settings.profile == Profile::Local && !loopback).then(|| {
        format!(
            "the local profile listens on {host}: its uploads and events need no authentication, \
             so anyone who can reach this port can write objects and post events. Bind \
             127.0.0.1 (server.host), or publish the container's port on loopback only \
             (docker run -p 127.0.0.1:8080:8080)"
        )
    })
}

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Picks the backends from the settings, binds, and prepares the server (not yet running).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = settings.with_local_signing_key()?;
        let (backends, local) = Backends::from_settings(&settings)
            .await
            .context("could not set up the backends")?;
        Self::build_with_local(Arc::new(settings), backends, local)
    }

    /// Like [`Application::build`] with backends chosen by the caller (tests inject fakes).
    pub fn build_with(settings: Arc<Settings>, backends: Backends) -> anyhow::Result<Self> {
        Self::build_with_local(settings, backends, None)
    }

    fn build_with_local(
        settings: Arc<Settings>,
        backends: Backends,
        local: LocalHandle,
    ) -> anyhow::Result<Self> {
        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address).with_context(|| {
            format!(
                "could not listen on {}:{} (server.host, PORT)",
                settings.server.host, settings.server.port
            )
        })?;
        let port = listener.local_addr()?.port();
        let state = AppState::new(settings.clone(), backends).with_local(local);
        let app_state = state.clone();
        let body_timeout = Duration::from_secs(settings.server.body_read_timeout_secs);
        let server = HttpServer::new(move || {
            let state = app_state.clone();
            App::new()
                .wrap_fn(move |req, srv| srv.call(with_body_deadline(req, body_timeout)))
                .configure(move |cfg| router::configure(cfg, &state))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        // Our own handler (`run_until_stopped`) stops local delivery before the drain.
        .disable_signals()
        .listen(listener)
        .context("could not start the HTTP server")?
        .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address this process reaches itself on (the local event router delivers here).
    pub fn loopback_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs until SIGTERM/SIGINT (or `handle().stop()`), starting local event delivery first.
    /// On a signal, local delivery stops before the server drains: a delivery sent to a
    /// server that no longer accepts would fail, and a few such failures in the drain
    /// window would dead-letter an event that only needed the next process.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if let Some(local) = &self.state.local {
            local.start(self.loopback_url());
        }
        self.stop_on_signal();
        tracing::info!(port = self.port, "Listening");
        if self.state.settings.profile == Profile::Local && self.state.local.is_some() {
            let url = crate::console::console_url(self.port);
            tracing::info!(url, "The console is at {url}");
        }
        self.server.await
    }

    /// Runs until `handle().stop()`, starting local event delivery first. Signals are the
    /// command's (see [`Interrupt`]): the server keeps serving while the command drains.
    async fn run_in_process(self) -> std::io::Result<()> {
        if let Some(local) = &self.state.local {
            local.start(self.loopback_url());
        }
        self.server.await
    }

    fn stop_on_signal(&self) {
        let handle = self.server.handle();
        let local = self.state.local.clone();
        let grace_secs = self.state.settings.server.shutdown_timeout_secs;
        actix_web::rt::spawn(async move {
            if let Err(e) = shutdown_signal().await {
                tracing::error!(
                    "Cannot listen for SIGTERM/SIGINT; stop the process by killing it: {e}"
                );
                return;
            }
            tracing::info!(grace_secs, "Shutting down: in-flight requests may finish");
            if let Some(local) = &local {
                local.stop();
            }
            handle.stop(true).await;
        });
    }
}

/// Resolves on the first SIGTERM (Cloud Run's stop) or SIGINT (Ctrl-C).
async fn shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => Ok(()),
        interrupted = tokio::signal::ctrl_c() => interrupted,
    }
}

/// The operator's Ctrl-C (or SIGTERM) as a command that runs the pipeline sees it: the first
/// asks it to start no new work and to finish what is in flight within a short drain; the
/// second exits at once (status 130).
#[derive(Clone)]
pub struct Interrupt {
    receiver: tokio::sync::watch::Receiver<bool>,
    /// Keeps a channel no signal task owns open (`never`, `raised_already`).
    _sender: Option<Arc<tokio::sync::watch::Sender<bool>>>,
}

impl Interrupt {
    /// Exit status of a command that was interrupted (128 + SIGINT).
    pub const EXIT_STATUS: u8 = 130;

    /// Starts listening for SIGINT and SIGTERM on this runtime.
    pub fn listen() -> Self {
        let (raised, receiver) = tokio::sync::watch::channel(false);
        actix_web::rt::spawn(async move {
            if shutdown_signal().await.is_err() {
                return;
            }
            // Not eprintln!: a closed stderr (a pipe whose reader left) must not stop the stop.
            let _ = writeln!(
                std::io::stderr(),
                "image-pipeline: interrupted: starting nothing new, finishing what is in \
                 flight (interrupt again to stop at once)"
            );
            let _ = raised.send(true);
            if shutdown_signal().await.is_ok() {
                std::process::exit(i32::from(Self::EXIT_STATUS));
            }
        });
        Self {
            receiver,
            _sender: None,
        }
    }

    /// One that is never raised (library callers and tests that do not stop).
    pub fn never() -> Self {
        Self::fixed(false)
    }

    /// One raised before the command starts (tests of what a stop leaves undone).
    pub fn raised_already() -> Self {
        Self::fixed(true)
    }

    fn fixed(raised: bool) -> Self {
        let (sender, receiver) = tokio::sync::watch::channel(raised);
        Self {
            receiver,
            _sender: Some(Arc::new(sender)),
        }
    }

    pub fn is_raised(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves once raised.
    pub async fn raised(&self) {
        let mut receiver = self.receiver.clone();
        if receiver.wait_for(|raised| *raised).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Waits for the local pipeline to go quiet: up to `timeout`, or, once raised, up to
    /// `drain` more. `Ok(false)` if it did not.
    pub async fn settle(
        &self,
        local: &Arc<dyn LocalControl>,
        timeout: Duration,
        drain: Duration,
    ) -> anyhow::Result<bool> {
        if self.is_raised() {
            return Ok(local.wait_idle(drain).await?);
        }
        tokio::select! {
            idle = local.wait_idle(timeout) => Ok(idle?),
            () = self.raised() => Ok(local.wait_idle(drain).await?),
        }
    }
}

/// A server started inside a command (`process`, `backfill`, `dead-letters`): the state its
/// handlers share, and the one way to stop it when the command is done.
pub struct InProcess {
    pub state: AppState,
    /// Where it listens (`http://127.0.0.1:<port>`).
    pub url: String,
    handle: ServerHandle,
    server: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
}

impl InProcess {
    /// Builds the server from `settings` and runs it (local delivery included) on this runtime.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        let app = Application::build(settings)
            .await
            .context("could not start the pipeline")?;
        let state = app.state().clone();
        let url = app.loopback_url();
        let handle = app.handle();
        let server = actix_web::rt::spawn(app.run_in_process());
        Ok(Self {
            state,
            url,
            handle,
            server,
        })
    }

    /// How long a command still waits for work in flight once interrupted
    /// (`server.shutdown_timeout_secs`, the server's own drain).
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.state.settings.server.shutdown_timeout_secs)
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
    }
}
