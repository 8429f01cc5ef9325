//! Lab network namespaces for end-to-end tests.
