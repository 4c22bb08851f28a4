#include "probe/model.hpp"
#include "reports/render.hpp"

namespace callready {

std::string render_json(const Report& report) { return json(report).dump(2) + "\n"; }

}  // namespace callready
