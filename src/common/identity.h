// Who and where this process runs: the login name and the host name, the
// same for the kojo CLI (the user it submits as), kojod --dev (the user it
// makes admin and lead of the default project) and the agents (the node's
// default name).
#pragma once

#include <string>

namespace kojo {

// The account's name, else $USER, else the numeric uid.
std::string LoginName();
// gethostname(), or "localhost" when it has none.
std::string HostName();

}  // namespace kojo
