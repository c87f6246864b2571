// OrgRegistry: kojod's current organisation model (programmes,
// organisations, projects, grants, members, GPU weights) as one immutable
// api::OrgConfig, replaced whole on every change, and its stored form: one
// store document per object (kinds "programme", "organisation", "project",
// "grant", "member" and one "gpu_weights"), loaded at start.
//
// An empty registry (no project defined) means the cluster runs as one flat
// pool, as before organisations existed: any project name is accepted and no
// grant is metered. Once a project exists, submissions must name a known
// project with an active grant.
//
// Thread safety: every method may be called from any thread (an internal
// mutex guards the pointer; readers get a shared, immutable snapshot). The
// store rows that Replace() returns must be made durable by the caller
// (the controller does so under its own mutex, through its committer).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/org_config.h"
#include "common/result.h"
#include "model/org.h"
#include "store/store.h"

namespace kojo::controller {

// Document kinds of the organisation model in the store.
inline constexpr std::string_view kDocGpuWeights = "gpu_weights";
inline constexpr std::string_view kDocProgramme = "programme";
inline constexpr std::string_view kDocOrganisation = "organisation";
inline constexpr std::string_view kDocProject = "project";
inline constexpr std::string_view kDocGrant = "grant";
inline constexpr std::string_view kDocMember = "member";
// Partner providers (docs/renting.md): kept so that a restarted kojod knows
// the slots it rented before any document is applied again.
inline constexpr std::string_view kDocProvider = "provider";
// The partitions, as one document: their order matters (a job without a
// time limit takes the first kept partition's default).
inline constexpr std::string_view kDocPartitions = "partitions";
bool IsOrgDocKind(std::string_view kind);

// Every list sorted by its key (name; grant id; project then user): the
// order the registry keeps and shows, whatever order a document came in.
api::OrgConfig Canonical(api::OrgConfig c);
// The stored rows of a whole configuration, ascending (kind, key).
std::vector<store::DocRow> OrgDocs(const api::OrgConfig& c);
// The configuration from its stored rows (other kinds are ignored); errors
// name the stored document.
Result<api::OrgConfig> OrgFromDocs(const std::vector<store::DocRow>& docs);

class OrgRegistry {
 public:
  OrgRegistry();

  // Loads from the store's documents at start.
  Status Load(const std::vector<store::DocRow>& docs);
  // Replaces the configuration; returns the rows (writes and deletions)
  // that bring the store from the previous configuration to `next`.
  std::vector<store::DocRow> Replace(api::OrgConfig next);

  std::shared_ptr<const api::OrgConfig> Config() const;
  // True when no project is defined: flat pool, nothing metered.
  bool Empty() const;

  // Lookups for authentication and the API.
  std::optional<ProjectRole> RoleIn(std::string_view project, std::string_view user) const;
  // Projects where `user` is a member or lead, ascending.
  std::vector<std::string> ProjectsOf(std::string_view user) const;
  bool HasProject(std::string_view project) const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const api::OrgConfig> config_;
};

}  // namespace kojo::controller
