#define BOOST_TEST_MODULE nodeboot
#include <boost/test/unit_test.hpp>
