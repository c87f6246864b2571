// The dashboard's built files (web/), compiled into kojod by the build
// (cmake/embed_web.cmake writes the table from the output of web/build.mjs),
// so that the binary serves them with nothing installed beside it. Empty
// when kojod is configured with -DKOJO_WEB=OFF.
#pragma once

#include <span>
#include <string_view>

namespace kojo::controller {

struct WebAsset {
  std::string_view path;          // "/index.html", "/assets/app-3F2A....js"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

std::span<const WebAsset> WebAssets();

}  // namespace kojo::controller
