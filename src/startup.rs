//! Builds the HTTP server from settings and backends, and knows its own port (tests bind
//! port 0). Graceful shutdown on SIGTERM/SIGINT is actix's, bounded by
//! `server.shutdown_timeout_secs` (Cloud Run kills 10 s after SIGTERM). No handler logic here.

use crate::backends::{Backends, LocalHandle};
use crate::config::Settings;
use crate::router;
use crate::state::AppState;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;

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
        let server = HttpServer::new(move || {
            let state = app_state.clone();
            App::new().configure(move |cfg| router::configure(cfg, &state))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
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
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if let Some(local) = &self.state.local {
            local.start(self.loopback_url());
        }
        tracing::info!(port = self.port, "Listening");
        self.server.await
    }
}

/// A server started inside a command (`process`, `backfill`, `dead-letters`): the state its
/// handlers share, and the one way to stop it when the command is done.
pub struct InProcess {
    pub state: AppState,
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
        let handle = app.handle();
        let server = actix_web::rt::spawn(app.run_until_stopped());
        Ok(Self {
            state,
            handle,
            server,
        })
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
    }
}
