/** The body of every refused request (`refuse()` in auth/guard.ts and the routes): a stable code and a message. */
export const errorBody = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } }, required: ['error', 'message'] } as const;
