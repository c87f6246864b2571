// The dashboard's routes: static files only (web_assets.h); every piece of
// data the dashboard shows comes from the API with the user's own token.
#include <httplib.h>

#include <string>

#include "controller/http_server.h"
#include "controller/web_assets.h"

namespace kojo::controller {

namespace {

const WebAsset* FindAsset(std::string_view path) {
  for (const WebAsset& a : WebAssets())
    if (a.path == path) return &a;
  return nullptr;
}

void Send(httplib::Response& res, const WebAsset& a, std::string_view cache) {
  res.status = 200;
  res.set_header("Cache-Control", std::string(cache));
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                 "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  res.set_content(a.body.data(), a.body.size(), std::string(a.content_type));
}

}  // namespace

void HttpServer::DashboardRoutes() {
  // Files under /assets/ have a hash of their content in their names:
  // cached for a year. index.html is checked again at every load.
  server_->Get("/assets/.*", [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* a = FindAsset(req.path);
    if (!a) {
      res.status = 404;
      res.set_header("Cache-Control", "no-store");
      res.set_content("not found\n", "text/plain; charset=utf-8");
      return;
    }
    Send(res, *a, "public, max-age=31536000, immutable");
  });
  // Any other GET outside /api/ and /metrics is one of the dashboard's own
  // pages (its links are paths such as /jobs/42): index.html.
  server_->Get("^/(?!api/|metrics$).*", [](const httplib::Request&, httplib::Response& res) {
    const WebAsset* index = FindAsset("/index.html");
    if (!index) {
      res.status = 404;
      res.set_content("kojod was built without its dashboard (-DKOJO_WEB=OFF); the API is under /api/v1\n",
                      "text/plain; charset=utf-8");
      return;
    }
    Send(res, *index, "no-cache");
  });
}

}  // namespace kojo::controller
