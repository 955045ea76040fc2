<?php
// Router for PHP's built-in web server (php -S), serving Debian's WordPress (/usr/share/wordpress,
// the document root) for the tests. Started by scripts/wordpress-ctl, which sets CASCADE_WP_CONFIG
// (selects /etc/wordpress/config-<CASCADE_WP_CONFIG>.php through Debian's wp-config.php) and
// CASCADE_WP_CONTENT_DIR (WP_CONTENT_DIR, which lies outside the document root).
$_SERVER['WORDPRESS_CONFIG'] = getenv('CASCADE_WP_CONFIG');
// A server started with CASCADE_WP_PERMALINKS=plain serves the site as one with plain
// permalinks (no /wp-json/ routes; the REST API only at ?rest_route=), whatever its setting:
// WordPress takes filters set before it loads ($wp_filter pre-initialised, see plugin.php).
if (getenv('CASCADE_WP_PERMALINKS') === 'plain') {
    $GLOBALS['wp_filter']['pre_option_permalink_structure'][10][] = [
        'function' => static fn () => '',
        'accepted_args' => 1,
    ];
}

$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$path = '/' . ltrim(rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/'), '/');

function cascade_run_php(string $root, string $url_path): bool
{
    $file = $root . $url_path;
    $_SERVER['SCRIPT_NAME'] = $url_path;
    $_SERVER['PHP_SELF'] = $url_path;
    $_SERVER['SCRIPT_FILENAME'] = $file;
    chdir(dirname($file));
    require $file;
    return true;
}

// /wp-content/...: static files (uploads) from WP_CONTENT_DIR; its PHP files are never run.
if ($path === '/wp-content' || str_starts_with($path, '/wp-content/')) {
    $content = realpath((string) getenv('CASCADE_WP_CONTENT_DIR'));
    $file = $content === false ? false : realpath($content . substr($path, strlen('/wp-content')));
    if ($file === false || !is_file($file) || !str_starts_with($file, $content . '/')
        || preg_match('/\.(php|phtml|phar)$/i', $file)) {
        http_response_code(404);
        return true;
    }
    $type = mime_content_type($file);
    header('Content-Type: ' . ($type ?: 'application/octet-stream'));
    header('Content-Length: ' . filesize($file));
    readfile($file);
    return true;
}

// Plain permalinks: the web server has no rewrite for /wp-json/ (as Apache without WordPress's
// .htaccess rules): a 404 page, and the REST API only at /?rest_route=.
if (getenv('CASCADE_WP_PERMALINKS') === 'plain' && ($path === '/wp-json' || str_starts_with($path, '/wp-json/'))) {
    http_response_code(404);
    header('Content-Type: text/html; charset=UTF-8');
    echo "<!DOCTYPE html>\n<title>Not Found</title><h1>Not Found</h1>\n";
    return true;
}

$real = realpath($root . $path);
if ($real !== false && ($real === $root || str_starts_with($real, $root . '/'))) {
    if (is_dir($real)) {
        if (!str_ends_with($path, '/')) {
            header('Location: ' . $path . '/', true, 301);
            return true;
        }
        if (is_file($real . '/index.php')) {
            return cascade_run_php($root, $path . 'index.php');
        }
        return false;
    }
    if (str_ends_with($path, '.php')) {
        return cascade_run_php($root, $path);
    }
    return false; // a static file: the built-in server sends it
}

// Anything else (pretty permalinks, /wp-json/...) goes to WordPress's front controller.
return cascade_run_php($root, '/index.php');
