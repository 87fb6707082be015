import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { KeepsakeApp } from './lib/app.svelte';
import { tauriApi } from './lib/api';

const app = new KeepsakeApp(tauriApi);
mount(App, { target: document.getElementById('app')!, props: { app } });
// `keepsake:interactive`: the first screen is shown and answers input (the
// desktop benchmark reads it through WebDriver).
void app.init().then(() => performance.mark('keepsake:interactive'));
