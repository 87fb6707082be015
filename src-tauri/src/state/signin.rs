//! The platform the window talks to and the sign-in to it: which platform
//! an address is (found by asking it, remembered with the address), the
//! ways of signing in it offers, and the sign-in kept in the keyring. The
//! engine's `signin` does the work; this is the window's side of it.

use keepsake_core::signin;

use super::*;
use crate::dto::{CategoryChoice, SignInOffer};

impl AppState {
    fn remembered(&self) -> Settings {
        fs_err::read(&self.paths.settings)
            .ok()
            .and_then(|raw| serde_json::from_slice::<Settings>(&raw).ok())
            .unwrap_or_default()
    }

    /// The chosen platform's address and, when known, its kind.
    fn chosen(&self) -> (Option<String>, Option<String>) {
        match &self.env_platform {
            Some(url) => (Some(url.clone()), self.env_kind.clone()),
            None => {
                let s = self.remembered();
                (s.platform, s.kind)
            }
        }
    }

    /// The chosen platform's address, if one is chosen (as remembered: no
    /// question asked of the platform).
    pub fn chosen_url(&self) -> Option<String> {
        self.chosen().0
    }

    pub(super) fn platform(&self) -> CmdResult<PlatformUrl> {
        let url = self.chosen().0.ok_or_else(|| {
            IpcError::new(
                ErrorCode::Invalid,
                "choose the platform to sign in to first",
            )
        })?;
        Ok(PlatformUrl::parse(&url).map_err(Error::from)?)
    }

    /// The chosen platform's connector: the kind found when the address was
    /// chosen (or, for a platform remembered by an older version, asked
    /// now).
    pub(super) async fn connector(&self) -> CmdResult<Arc<dyn Connector>> {
        let platform = self.platform()?;
        let kind = self.chosen().1;
        Ok(signin::detect(&platform, kind.as_deref()).await?)
    }

    /// The chosen platform: what it is and how one signs in to it. A
    /// platform that cannot be asked now is still the chosen one: the
    /// window shows why it cannot offer a sign-in yet.
    pub async fn platform_info(&self) -> CmdResult<PlatformInfo> {
        let (url, kind) = self.chosen();
        let demo = self.env_platform.is_some();
        if url.is_none() {
            return Ok(PlatformInfo::none(demo));
        }
        let platform = self.platform()?;
        let asked = async {
            let connector = self.connector().await?;
            let offers = signin::offers(&*connector, &platform).await?;
            Ok::<_, IpcError>((connector, offers))
        };
        Ok(match asked.await {
            Ok((connector, offers)) => PlatformInfo::of(url, demo, &*connector, offers),
            Err(e) => PlatformInfo {
                kind,
                problem: Some(e.message),
                ..PlatformInfo::none(demo)
            }
            .at(url),
        })
    }

    /// Finds which platform `url` is, and remembers both.
    pub async fn set_platform(&self, url: &str) -> CmdResult<PlatformInfo> {
        self.forget_launch_read();
        // An address that is none is refused in every mode.
        let parsed = PlatformUrl::parse(url.trim()).map_err(Error::from)?;
        if self.env_platform.is_some() {
            // Demo mode: the platform is the one the app was started on.
            return self.platform_info().await;
        }
        let connector = signin::detect(&parsed, None).await?;
        let offers = signin::offers(&*connector, &parsed).await?;
        let settings = Settings {
            platform: Some(normalise_platform(&parsed)),
            kind: Some(connector.kind().to_owned()),
        };
        let bytes = serde_json::to_vec_pretty(&settings)
            .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
        if let Some(dir) = self.paths.settings.parent() {
            fs_err::create_dir_all(dir).map_err(Error::io("create", dir))?;
        }
        fs_err::write(&self.paths.settings, bytes)
            .map_err(Error::io("write", &self.paths.settings))?;
        Ok(PlatformInfo::of(
            settings.platform,
            false,
            &*connector,
            offers,
        ))
    }

    /// Signs in with an access token: checked against the platform before
    /// it is stored in the keyring; never sent back.
    pub async fn sign_in_with_token(&self, token: String) -> CmdResult<Account> {
        let token = Secret::new(token.trim());
        if token.expose().is_empty() {
            return Err(IpcError::new(
                ErrorCode::Invalid,
                "paste an access token first",
            ));
        }
        let platform = self.platform()?;
        let connector = self.connector().await?;
        let creds = connector.sign_in_token(&platform, token);
        self.keep(&connector, creds, &platform).await
    }

    /// Signs in with a name and a password (or application password),
    /// typed into the window; the password is never kept, only what the
    /// platform gives for it.
    pub async fn sign_in_with_password(
        &self,
        user: String,
        password: String,
    ) -> CmdResult<Account> {
        let (user, password) = (user.trim().to_owned(), Secret::new(password));
        if user.is_empty() || password.expose().is_empty() {
            return Err(IpcError::new(
                ErrorCode::Invalid,
                "enter your user name and password first",
            ));
        }
        let platform = self.platform()?;
        let connector = self.connector().await?;
        let creds = connector
            .sign_in_password(&platform, &user, password)
            .await?;
        self.keep(&connector, creds, &platform).await
    }

    /// Signs in through the system browser; `open` launches it.
    pub async fn sign_in_with_browser(
        &self,
        support: bool,
        open: impl FnOnce(&url::Url) -> std::io::Result<()> + Send + 'static,
    ) -> CmdResult<Account> {
        let platform = self.platform()?;
        let connector = self.connector().await?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        *lock(&self.signing_in) = Some(stop);
        // Dropping the sign-in stops it: the loopback listener closes.
        let creds = tokio::select! {
            creds = connector.sign_in_browser(&platform, support, Box::new(open), SIGN_IN_TIMEOUT) => creds,
            Ok(()) = stopped => {
                return Err(IpcError::new(ErrorCode::Cancelled, "sign-in cancelled"));
            }
        };
        lock(&self.signing_in).take();
        self.keep(&connector, creds?, &platform).await
    }

    /// Opens the page where the platform makes the secret its password
    /// form asks for (WordPress's approval page, which then shows a new
    /// application password once); `open` launches the browser. The
    /// address comes from the platform's own offers (on the platform's own
    /// host: `signin::offers` sees to it), never from the window. Returns
    /// it, to show.
    pub async fn open_sign_in_page(
        &self,
        open: impl FnOnce(&url::Url) -> std::io::Result<()>,
    ) -> CmdResult<String> {
        let platform = self.platform()?;
        let connector = self.connector().await?;
        let offers = signin::offers(&*connector, &platform).await?;
        let page = offers
            .into_iter()
            .find_map(|o| o.page)
            .and_then(|p| url::Url::parse(&p).ok())
            .ok_or_else(|| {
                IpcError::new(
                    ErrorCode::Invalid,
                    format!("{} has no page that makes one", connector.name()),
                )
            })?;
        open(&page).map_err(|e| {
            IpcError::new(
                ErrorCode::Invalid,
                format!("could not open the browser ({e}); open {page} yourself"),
            )
        })?;
        Ok(page.to_string())
    }

    /// Stops a browser sign-in that is waiting for the browser; whether one
    /// was.
    pub fn cancel_sign_in(&self) -> bool {
        lock(&self.signing_in)
            .take()
            .is_some_and(|stop| stop.send(()).is_ok())
    }

    /// Checks new credentials with the platform, then stores them.
    async fn keep(
        &self,
        connector: &Arc<dyn Connector>,
        creds: Credentials,
        platform: &PlatformUrl,
    ) -> CmdResult<Account> {
        self.forget_launch_read();
        let (me, _) = signin::keep(
            self.store()?,
            connector,
            platform,
            creds,
            RetryPolicy::interactive(),
        )
        .await?;
        Ok(account(&**connector, me, platform))
    }

    /// A client signed in to the chosen platform, and its connector.
    pub(super) async fn client(&self) -> CmdResult<(ApiClient, Arc<dyn Connector>)> {
        let platform = self.platform()?;
        let source = signin::stored(self.store()?, &platform).await?;
        self.signed_in(&platform, source).await
    }

    async fn signed_in(
        &self,
        platform: &PlatformUrl,
        source: TokenSource,
    ) -> CmdResult<(ApiClient, Arc<dyn Connector>)> {
        let connector = signin::connector_of(&source.credentials().await)?;
        let tokens: Arc<dyn TokenProvider> = Arc::new(source);
        Ok((ApiClient::new(platform, tokens)?, connector))
    }

    /// [`client`](Self::client), from the launch's keyring read if it is
    /// still there.
    async fn client_at_launch(
        &self,
        platform: &PlatformUrl,
    ) -> CmdResult<(ApiClient, Arc<dyn Connector>)> {
        let key = normalise_platform(platform);
        let Some(read) = self.take_launch_read(&key).await else {
            return self.client().await;
        };
        let (store, found) = read?;
        let credentials = found.ok_or(Error::NotSignedIn { platform: key })?;
        self.signed_in(platform, TokenSource::new(store, credentials))
            .await
    }

    /// Who is signed in; `None` when nobody is.
    pub async fn who_am_i(&self) -> CmdResult<Option<Account>> {
        let platform = match self.platform() {
            Ok(p) => p,
            Err(_) => return Ok(None),
        };
        let (client, connector) = match self.client_at_launch(&platform).await {
            Ok((c, k)) => (c.with_retry(RetryPolicy::interactive()), k),
            Err(e) if e.code == ErrorCode::SignedOut => return Ok(None),
            Err(e) => return Err(e),
        };
        match connector.whoami(&client).await {
            Ok(me) => Ok(Some(account(&*connector, me, &platform))),
            Err(e) => match IpcError::from(e) {
                e if e.code == ErrorCode::SignedOut => Ok(None),
                e => Err(e),
            },
        }
    }

    /// The signed-in account, as the connector says.
    pub(super) async fn me(
        &self,
        client: &ApiClient,
        connector: &dyn Connector,
    ) -> CmdResult<Account> {
        let me = connector.whoami(client).await?;
        Ok(account(connector, me, &self.platform()?))
    }

    /// Ends the sign-in on the platform and forgets it. A platform that
    /// cannot be reached does not keep the user signed in here.
    pub async fn sign_out(&self) -> CmdResult<()> {
        self.forget_launch_read();
        signin::sign_out(self.store()?, &self.platform()?, false).await?;
        Ok(())
    }

    /// Looks a customer up by login (support staff).
    pub async fn find_customer(&self, login: &str) -> CmdResult<Customer> {
        let login = login.trim();
        let (client, connector) = self.client().await?;
        let user = connector
            .find_account(&client.with_retry(RetryPolicy::interactive()), login)
            .await?
            .ok_or_else(|| {
                IpcError::new(
                    ErrorCode::Invalid,
                    format!("no account with the login '{login}'"),
                )
            })?;
        Ok(Customer {
            id: user.id.to_string(),
            login: user.login,
            display_name: user.display_name.unwrap_or_default(),
        })
    }
}

/// The signed-in account, for the window.
fn account(
    connector: &dyn Connector,
    me: keepsake_core::connector::Account,
    platform: &PlatformUrl,
) -> Account {
    Account {
        id: me.id.to_string(),
        login: me.login,
        display_name: me.display_name.unwrap_or_default(),
        role: if me.support { "support" } else { "user" }.to_owned(),
        support: me.support,
        // What support access is on this platform, in its terms.
        support_means: connector.support_means().to_owned(),
        platform: normalise_platform(platform),
        platform_name: connector.name().to_owned(),
        snapshot: connector.features().snapshot,
        platform_record: connector.features().outcome_record,
    }
}

impl From<keepsake_core::connector::Offer> for SignInOffer {
    fn from(o: keepsake_core::connector::Offer) -> Self {
        Self {
            flow: match o.flow {
                keepsake_core::connector::Flow::Browser => "browser",
                keepsake_core::connector::Flow::Password => "password",
                keepsake_core::connector::Flow::Token => "token",
            }
            .to_owned(),
            label: o.label,
            secret_label: o.secret_label,
            user_label: o.user_label,
            page: o.page,
        }
    }
}

impl PlatformInfo {
    fn none(demo: bool) -> Self {
        Self {
            url: None,
            demo,
            kind: None,
            name: None,
            offers: Vec::new(),
            categories: Vec::new(),
            date_range: false,
            problem: None,
        }
    }

    fn at(self, url: Option<String>) -> Self {
        Self { url, ..self }
    }

    fn of(
        url: Option<String>,
        demo: bool,
        connector: &dyn Connector,
        offers: Vec<keepsake_core::connector::Offer>,
    ) -> Self {
        Self {
            url,
            demo,
            kind: Some(connector.kind().to_owned()),
            name: Some(connector.name().to_owned()),
            offers: offers.into_iter().map(SignInOffer::from).collect(),
            categories: connector
                .categories()
                .into_iter()
                .map(|c| CategoryChoice {
                    name: c.name.into_owned(),
                    label: c.label.into_owned(),
                })
                .collect(),
            date_range: connector.features().date_range,
            problem: None,
        }
    }
}
