import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { SignInForm, type Credentials } from "./SignInForm";

function form(props: Partial<Parameters<typeof SignInForm>[0]> = {}) {
  const onSubmit = vi.fn<(c: Credentials) => void>();
  render(<SignInForm notice={null} error={null} busy={false} onSubmit={onSubmit} {...props} />);
  return onSubmit;
}

describe("the sign-in form", () => {
  it("hands over a token, trimmed", () => {
    const onSubmit = form();
    fireEvent.change(screen.getByLabelText("Token"), { target: { value: "  mrt_abc  " } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(onSubmit).toHaveBeenCalledWith({ method: "token", token: "mrt_abc" });
  });

  it("asks for an address and a password once that method is chosen", () => {
    const onSubmit = form();
    expect(screen.queryByLabelText("Password")).toBeNull();
    fireEvent.click(screen.getByLabelText("Address and password"));
    expect(screen.queryByLabelText("Token")).toBeNull();
    fireEvent.change(screen.getByLabelText("Address"), { target: { value: " jane@example.test " } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: " secret " } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    // The address is trimmed, the password is taken as typed.
    expect(onSubmit).toHaveBeenCalledWith({ method: "password", address: "jane@example.test", password: " secret " });
  });

  it("shows the refusal as an alert the form is described by", () => {
    form({ error: "Unauthorized: the token is not valid" });
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toBe("Unauthorized: the token is not valid");
    expect(screen.getByRole("button", { name: "Sign in" }).closest("form")?.getAttribute("aria-describedby")).toBe(alert.id);
  });

  it("shows a notice, and a busy button that cannot be pressed twice", () => {
    form({ notice: "You are signed out.", busy: true });
    expect(screen.getByRole("status").textContent).toBe("You are signed out.");
    const button = screen.getByRole("button", { name: "Signing in…" }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
  });
});
