import { render } from "preact";
import "./styles/fonts.css";
import "./styles/base.css";
import "./styles/shell.css";
import "./lib/theme";
import { App } from "./app";
import { installShortcuts } from "./lib/shortcuts";

installShortcuts();
const root = document.getElementById("app");
if (root === null) throw new Error("index.html has no #app");
render(<App />, root);
