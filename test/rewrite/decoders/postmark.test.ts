import { describe } from 'vitest';

import { vectors, type Vector } from './helpers.js';

describe('postmark decoder', () => {
  vectors({ decoder: 'postmark' }, [
    ['2s', 'https://click.pstmrk.it/2s/www.example.com%2Ffeed%2Fhtml/wmxJTyAN/Gc9Q/H5vxf8qJfE', 'https://www.example.com/feed/html'],
    [
      '3ts with a query',
      'https://click.pstmrk.it/3ts/dashboard.example.com%2Femail-confirm%2F%3Ftoken%3DZfB5G3Vzci1jbm5p/5VpE/dOizAQ/AQ/01cbb01c-ea2a-44b3-9d47-51225bdcbe4c/1/58BL_26AFk',
      'https://dashboard.example.com/email-confirm/?token=ZfB5G3Vzci1jbm5p',
    ],
    ['2sm', 'https://click.pstmrk.it/2sm/chat.example.com%2Fbot.html%3Fcid%3D63ff5a8d%26utm_medium%3Demail/Ab12/Cd34/Ef56', 'https://chat.example.com/bot.html?cid=63ff5a8d&utm_medium=email'],
    ['javascript: refused', 'https://click.pstmrk.it/3s/javascript:alert(1)/Ab12/Cd34', null],
    ['not a Postmark click path', 'https://click.pstmrk.it/open/Ab12', null],
  ] satisfies Vector[]);
});
