// `kojo whoami` and `kojo admin user|token ...`: the users and tokens of
// the controller (docs/cli.md, "Users and tokens").
#include "cli/auth_commands.h"

#include <array>
#include <cstdio>
#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "cli/client.h"
#include "cli/common.h"

namespace kojo::cli {

using api::Json;

namespace {

struct AuthConn {
  std::string server, token;
  bool json = false;
};

void AddConnOptions(CLI::App* sub, AuthConn& c) {
  sub->add_option("--server", c.server, "Controller URL, e.g. https://kojo.example.org:7100");
  sub->add_option("--token", c.token, "Bearer token (else KOJO_TOKEN or the config file)");
  sub->add_flag("--json", c.json, "Print JSON");
}

ApiClient Connect(const AuthConn& c) { return ApiClient(ResolveServer(c.server, c.token, ProcessEnv())); }

void Print(const Json& j) { std::printf("%s\n", j.dump(2).c_str()); }

std::string Str(const Json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "-";
}

// The `admin` command, shared with other admin commands when already there.
CLI::App* AdminCommand(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->get_name() == "admin") return sub;
  CLI::App* admin = app.add_subcommand("admin", "Administration: users and tokens (needs an admin token)");
  admin->require_subcommand(1);
  return admin;
}

}  // namespace

void AddAuthCommands(CLI::App& app) {
  {
    auto c = std::make_shared<AuthConn>();
    CLI::App* who = app.add_subcommand("whoami", "Who the controller takes you for: user, role, projects");
    AddConnOptions(who, *c);
    who->callback([c] {
      ApiClient client = Connect(*c);
      const Json j = client.GetJson("/api/v1/whoami");
      if (c->json) return Print(j);
      std::printf("%s %s (role %s, token %s, via %s)\n", Str(j, "kind").c_str(), Str(j, "name").c_str(),
                  Str(j, "role").c_str(), Str(j, "token").c_str(), client.config().source.c_str());
      for (const auto& p : j.value("projects", Json::array()))
        std::printf("  project %s: %s\n", Str(p, "project").c_str(), Str(p, "role").c_str());
    });
  }
  CLI::App* admin = AdminCommand(app);

  CLI::App* user = admin->add_subcommand("user", "Users and their global roles");
  user->require_subcommand(1);
  {
    auto c = std::make_shared<AuthConn>();
    auto name = std::make_shared<std::string>();
    auto role = std::make_shared<std::string>();
    CLI::App* add = user->add_subcommand("add", "Add a user (kojo admin user add NAME [--role viewer|operator|admin])");
    add->add_option("name", *name, "User name")->required();
    add->add_option("--role", *role, "Global role: viewer, operator or admin (default: none; projects give access)");
    AddConnOptions(add, *c);
    add->callback([c, name, role] {
      Json body{{"name", *name}};
      if (!role->empty()) body["role"] = *role;
      const Json j = Connect(*c).PostJson("/api/v1/users", body.dump());
      if (c->json) return Print(j);
      std::printf("user %s added (role %s)\n", Str(j, "name").c_str(), Str(j, "role").c_str());
    });
  }
  {
    auto c = std::make_shared<AuthConn>();
    auto name = std::make_shared<std::string>();
    auto role = std::make_shared<std::string>();
    CLI::App* set = user->add_subcommand("set-role", "Change a user's global role (kojo admin user set-role NAME viewer|operator|admin|none)");
    set->add_option("name", *name, "User name")->required();
    set->add_option("role", *role, "viewer, operator, admin, or none (projects alone give access)")
        ->required()
        ->check(CLI::IsMember({"viewer", "operator", "admin", "none"}));
    AddConnOptions(set, *c);
    set->callback([c, name, role] {
      const Json body{{"role", *role == "none" ? Json(nullptr) : Json(*role)}};
      const Json j = Connect(*c).PutJson("/api/v1/users/" + *name, body.dump());
      if (c->json) return Print(j);
      std::printf("user %s: role %s\n", Str(j, "name").c_str(), Str(j, "role").c_str());
    });
  }
  {
    auto c = std::make_shared<AuthConn>();
    CLI::App* list = user->add_subcommand("list", "List users");
    AddConnOptions(list, *c);
    list->callback([c] {
      const Json j = Connect(*c).GetJson("/api/v1/users");
      if (c->json) return Print(j);
      std::printf("%-24s %s\n", "USER", "ROLE");
      for (const auto& u : j.value("users", Json::array()))
        std::printf("%-24s %s\n", Str(u, "name").c_str(), Str(u, "role").c_str());
    });
  }

  CLI::App* token = admin->add_subcommand(
      "token", "Tokens of users and of nodes (agents); any user may create, list and revoke its own");
  token->require_subcommand(1);
  {
    auto c = std::make_shared<AuthConn>();
    auto req = std::make_shared<std::array<std::string, 3>>();  // user, node, name
    auto expires_in = std::make_shared<std::int64_t>(0);
    CLI::App* create = token->add_subcommand(
        "create", "Create a token and print its secret (shown once): your own, or (admins) --user NAME or --node NODE for an agent");
    auto* u = create->add_option("--user", (*req)[0], "The user the token stands for (default: you)");
    auto* n = create->add_option("--node", (*req)[1], "The node whose agent sends it (opens only the agent endpoints)");
    u->excludes(n);
    create->add_option("--name", (*req)[2], "The token's name (default: generated)");
    create->add_option("--expires-in", *expires_in, "Seconds until it expires (default: never)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{100} * 365 * 86400));
    AddConnOptions(create, *c);
    create->callback([c, req, expires_in] {
      Json body = Json::object();
      if (!(*req)[0].empty()) body["user"] = (*req)[0];
      if (!(*req)[1].empty()) body["node"] = (*req)[1];
      if (!(*req)[2].empty()) body["name"] = (*req)[2];
      if (*expires_in > 0) body["expires"] = static_cast<std::int64_t>(std::time(nullptr)) + *expires_in;
      const Json j = Connect(*c).PostJson("/api/v1/tokens", body.dump());
      if (c->json) return Print(j);
      std::fprintf(stderr, "token %s created; its secret is shown only now:\n", Str(j["token"], "name").c_str());
      std::printf("%s\n", Str(j, "secret").c_str());
    });
  }
  {
    auto c = std::make_shared<AuthConn>();
    auto name = std::make_shared<std::string>();
    CLI::App* revoke = token->add_subcommand("revoke", "Revoke a token by name");
    revoke->add_option("name", *name, "Token name")->required();
    AddConnOptions(revoke, *c);
    revoke->callback([c, name] {
      const Json j = Connect(*c).DeleteJson("/api/v1/tokens/" + UrlEscape(*name));
      if (c->json) return Print(j);
      std::printf("token %s revoked\n", Str(j, "name").c_str());
    });
  }
  {
    auto c = std::make_shared<AuthConn>();
    CLI::App* list = token->add_subcommand("list", "List tokens (names and owners; never secrets)");
    AddConnOptions(list, *c);
    list->callback([c] {
      const Json j = Connect(*c).GetJson("/api/v1/tokens");
      if (c->json) return Print(j);
      std::printf("%-28s %-8s %-24s %s\n", "TOKEN", "KIND", "OWNER", "EXPIRES");
      for (const auto& t : j.value("tokens", Json::array())) {
        const bool node = t.contains("node") && t["node"].is_string();
        const std::string expires = t.contains("expires") && t["expires"].is_number()
                                        ? std::to_string(t["expires"].get<std::int64_t>())
                                        : "never";
        std::printf("%-28s %-8s %-24s %s\n", Str(t, "name").c_str(), node ? "node" : "user",
                    Str(t, node ? "node" : "user").c_str(), expires.c_str());
      }
    });
  }
}

}  // namespace kojo::cli
