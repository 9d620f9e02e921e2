#include <yaml-cpp/yaml.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/util/yaml.hpp"

BOOST_AUTO_TEST_SUITE(yaml)

BOOST_AUTO_TEST_CASE(round_trips_types_yaml_would_misread) {
  nlohmann::json doc = {{"s", "true"}, {"n", "0755"}, {"e", ""}, {"b", true}, {"i", 3}, {"l", {"a", "b: c"}}};
  YAML::Node back = YAML::Load(nodeboot::to_yaml(doc));
  BOOST_TEST(back["s"].as<std::string>() == "true");
  BOOST_TEST(back["s"].Tag() == "!");  // quoted, so a string
  BOOST_TEST(back["n"].as<std::string>() == "0755");
  BOOST_TEST(back["n"].Tag() == "!");
  BOOST_TEST(back["e"].as<std::string>() == "");
  BOOST_TEST(back["b"].as<bool>() == true);
  BOOST_TEST(back["i"].as<int>() == 3);
  BOOST_TEST(back["l"][1].as<std::string>() == "b: c");
}

BOOST_AUTO_TEST_SUITE_END()
