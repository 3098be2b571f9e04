// Component tests: each test's rendering is removed after it (Vitest runs without
// globals, so Testing Library cannot register this itself).
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(cleanup);
