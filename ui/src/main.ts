import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { KeepsakeApp } from './lib/app.svelte';
import { tauriApi } from './lib/api';

const app = new KeepsakeApp(tauriApi);
mount(App, { target: document.getElementById('app')!, props: { app } });
void app.init();
