import { describe, expect, it } from "vitest";
import { downloadName } from "./download";

describe("the name a download is saved under", () => {
  it("keeps a plain name", () => {
    expect(downloadName("report 2026.pdf")).toBe("report 2026.pdf");
  });
  it("drops any path and control characters", () => {
    expect(downloadName("../../etc/passwd")).toBe("passwd");
    expect(downloadName("C:\\temp\\a\u0007b.txt")).toBe("ab.txt");
  });
  it("names a nameless attachment", () => {
    expect(downloadName("")).toBe("attachment");
    expect(downloadName("dir/")).toBe("attachment");
  });
});
