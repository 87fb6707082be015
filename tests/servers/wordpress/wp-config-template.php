<?php
/* Test-only WordPress configuration. wp.sh copies it to DIR/wordpress/wp-config.php
 * after three lines that define KEEPSAKE_WP_DIR (the instance), KEEPSAKE_WP_URL
 * (http://127.0.0.1:PORT) and KEEPSAKE_WP_SOCKET (its MariaDB). Never use these
 * keys or this database account on a real site. */

define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'root' );      // passwordless: only this user can reach the private socket
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', 'localhost:' . KEEPSAKE_WP_SOCKET );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$table_prefix = 'wp_';

/* Fixed, so that cookies and nonces mean the same in every copy of the snapshot. */
define( 'AUTH_KEY', 'keepsake-test-only-auth-key' );
define( 'SECURE_AUTH_KEY', 'keepsake-test-only-secure-auth-key' );
define( 'LOGGED_IN_KEY', 'keepsake-test-only-logged-in-key' );
define( 'NONCE_KEY', 'keepsake-test-only-nonce-key' );
define( 'AUTH_SALT', 'keepsake-test-only-auth-salt' );
define( 'SECURE_AUTH_SALT', 'keepsake-test-only-secure-auth-salt' );
define( 'LOGGED_IN_SALT', 'keepsake-test-only-logged-in-salt' );
define( 'NONCE_SALT', 'keepsake-test-only-nonce-salt' );

/* The database stores the seed's URL; the instance's port wins. */
define( 'WP_HOME', KEEPSAKE_WP_URL );
define( 'WP_SITEURL', KEEPSAKE_WP_URL );
/* Uploads, must-use plugins and themes live in the instance, not in /var/lib. */
define( 'WP_CONTENT_DIR', KEEPSAKE_WP_DIR . '/wp-content' );

/* WP_ENVIRONMENT_TYPE is left to the server's environment (wp.sh sets `local`),
 * so that a test can run a `production` site too. */
define( 'WP_HTTP_BLOCK_EXTERNAL', true );   // and the mu-plugin blocks the rest
define( 'DISABLE_WP_CRON', true );          // no cron: nothing changes between requests
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );
define( 'FS_METHOD', 'direct' );
define( 'WP_DEBUG', false );                // WordPress 6.1 floods PHP 8.2 logs with deprecations

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
