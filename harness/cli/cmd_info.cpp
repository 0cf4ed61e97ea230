// qbench backends / sysinfo: what this build and this machine offer.
#include <cstdio>
#include <iostream>

#include "engines/registry/registry.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/sysinfo.h"

namespace qbench::cli {

int cmd_backends(int argc, char** argv) {
  Args a(argc, argv, 2, {}, {"help"});
  for (auto& b : backends()) std::printf("%-14s %s\n", b.name.c_str(), b.description.c_str());
  return 0;
}

int cmd_sysinfo(int argc, char** argv) {
  Args a(argc, argv, 2, {}, {"json", "help"});
  const SystemInfo s = collect_system_info();
  if (a.flag("json")) std::cout << s.to_json().dump(2) << "\n";
  else std::cout << format_system_info(s);
  return 0;
}

}  // namespace qbench::cli
