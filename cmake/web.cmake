# The dashboard (web/): `npm ci` when its lock file changes, then the
# type check and the bundle (web/build.mjs) when a source changes, into
# <build>/web/dist; cmake/embed_web.cmake turns those files into a .cc that
# kojo_controller compiles, so kojod carries them. Included from
# src/CMakeLists.txt, where kojo_controller is made.
set(KOJO_WEB_ASSETS_CC ${CMAKE_BINARY_DIR}/generated/web_assets.cc)
set(web_src ${PROJECT_SOURCE_DIR}/web)
set(embed ${PROJECT_SOURCE_DIR}/cmake/embed_web.cmake)
if(KOJO_WEB)
  find_program(KOJO_NPM npm)
  find_program(KOJO_NODE node)
  if(NOT KOJO_NPM OR NOT KOJO_NODE OR NOT EXISTS "${KOJO_NPM}" OR NOT EXISTS "${KOJO_NODE}")
    message(FATAL_ERROR "KOJO_WEB is ON (the dashboard) but `node` or `npm` was not found: run scripts/deps.sh "
                        "(it installs nodejs and npm when missing), or configure with -DKOJO_WEB=OFF for a kojod "
                        "without its dashboard.")
  endif()
  set(web_out ${CMAKE_BINARY_DIR}/web)
  # node_modules lives in web/ (ignored by git); the stamp is in the build.
  add_custom_command(
    OUTPUT ${web_out}/npm-ci.stamp
    COMMAND ${KOJO_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${web_out}/npm-ci.stamp
    WORKING_DIRECTORY ${web_src}
    DEPENDS ${web_src}/package.json ${web_src}/package-lock.json
    COMMENT "web: npm ci"
    VERBATIM)
  file(GLOB_RECURSE web_sources CONFIGURE_DEPENDS ${web_src}/src/*)
  add_custom_command(
    OUTPUT ${web_out}/dist/index.html
    COMMAND ${KOJO_NODE} ${web_src}/build.mjs --out ${web_out}/dist
    WORKING_DIRECTORY ${web_src}
    DEPENDS ${web_out}/npm-ci.stamp ${web_src}/build.mjs ${web_src}/tsconfig.json ${web_sources}
    COMMENT "web: type check and bundle the dashboard"
    VERBATIM)
  add_custom_command(
    OUTPUT ${KOJO_WEB_ASSETS_CC}
    COMMAND ${CMAKE_COMMAND} -DDIR=${web_out}/dist -DOUT=${KOJO_WEB_ASSETS_CC} -P ${embed}
    DEPENDS ${web_out}/dist/index.html ${embed}
    COMMENT "web: embed the dashboard into kojod"
    VERBATIM)
else()
  add_custom_command(
    OUTPUT ${KOJO_WEB_ASSETS_CC}
    COMMAND ${CMAKE_COMMAND} -DOUT=${KOJO_WEB_ASSETS_CC} -P ${embed}
    DEPENDS ${embed}
    COMMENT "web: no dashboard (KOJO_WEB=OFF)"
    VERBATIM)
endif()
target_sources(kojo_controller PRIVATE ${KOJO_WEB_ASSETS_CC})
