// jsdom lacks a few things the screens use.
if (!('scrollIntoView' in Element.prototype)) {
  (Element.prototype as unknown as { scrollIntoView: () => void }).scrollIntoView = () => {};
}

import { afterEach } from 'vitest';
import { cleanup } from '@testing-library/svelte';
afterEach(() => cleanup());
