//! Builds the HTTP server from settings and backends, and knows its own port (tests bind
//! port 0). Graceful shutdown on SIGTERM/SIGINT is actix's, bounded by
//! `server.shutdown_timeout_secs` (Cloud Run kills 10 s after SIGTERM). No handler logic here.

use crate::backends::{Backends, LocalHandle};
use crate::config::{Profile, Settings};
use crate::router;
use crate::router::body_deadline::with_body_deadline;
use crate::state::AppState;
use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::{App, HttpServer};
use anyhow::Context;
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
        tracing::info!(port = self.port, "Listening");
        if self.state.settings.profile == Profile::Local && self.state.local.is_some() {
            let url = crate::console::console_url(self.port);
            tracing::info!(url, "The console is at {url}");
        }
        self.server.await
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

/// A server started inside a command (`process`, `backfill`, `dead-letters`): the state its
/// handlers share, and the one way to stop it when the command is done.
pub struct InProcess {
    pub state: AppState,
    port: u16,
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
        let (port, handle) = (app.port(), app.handle());
        let server = actix_web::rt::spawn(app.run_until_stopped());
        Ok(Self {
            state,
            port,
            handle,
            server,
        })
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits until the server stops by itself (SIGTERM/SIGINT: see `run_until_stopped`).
    pub async fn wait(self) {
        let _ = self.server.await;
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
    }
}
