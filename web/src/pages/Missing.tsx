// A path the UI has no page for, or a page of another role.
import { PageTitle } from "../shell/PageTitle";
import { Link } from "../shell/router";

export function Missing({ kind, path }: { kind: "not-found" | "not-allowed"; path: string }) {
  const title = kind === "not-found" ? "No such page" : "Not for your role";
  return (
    <section>
      <PageTitle text={title} />
      <p>
        {kind === "not-found"
          ? `There is no page at ${path}.`
          : `The page at ${path} needs a role your token does not have.`}{" "}
        <Link to="/">Go to your start page</Link>.
      </p>
    </section>
  );
}
