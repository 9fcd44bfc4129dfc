// PLACEHOLDER (being written): the GitHub deployment protection rule runs shipgate answers.
export type GithubStore = object;

export type GithubTables = object;
